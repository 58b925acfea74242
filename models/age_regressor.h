#pragma once
// The brain-age DenseNet (models/age_regressor_layout.h) with explicit forward and backward over
// one device backend. Each dense block's features live in one buffer that the block's input and
// every unit's output are written into at channel offsets. In training, the batch statistics of a
// block's feature channel are computed once, when the first layer that normalises it runs, and
// shared by every later one (units, transition, head; each with its own affine and running
// statistics). BatchNorm-ReLU pairs are one pass, recomputed in backward instead of stored; what
// backward keeps is the stem's convolution output, its pooling record, every block's features and
// every unit's bottleneck convolution output.
#include <algorithm>
#include <vector>

#include "engine/memory.h"
#include "models/age_regressor_layout.h"
#include "models/backend.h"
#include "models/generator.h"

namespace mdcsrn {

// The stem's and the transitions' strides (MONAI's DenseNet), which set each block's grid.
inline constexpr ConvParams kAgeStem{7, 2, 3};
inline constexpr PoolWindow kAgeStemPool{3, 2, 1}, kAgeTransitionPool{2, 2, 0};

// Each dense block's feature shape for an input [N, 1, D, H, W]; an input too small for every
// block to keep a voxel is refused in words naming grid.size.
inline std::vector<Shape5> age_block_shapes(const AgeRegressorLayout& layout, const Shape5& input) {
  Shape5 grid = pool_output_shape(conv_output_shape(input, layout.config().features, kAgeStem), kAgeStemPool);
  std::vector<Shape5> shapes;
  for (const DenseBlockLayout& b : layout.blocks()) {
    if (grid.d < 1 || grid.h < 1 || grid.w < 1)
      fail("grid.size: " + std::to_string(input.w) + "x" + std::to_string(input.h) + "x" + std::to_string(input.d) + " voxels are too few for " +
           std::to_string(layout.blocks().size()) + " dense blocks (the stem divides each edge by 4, every transition by 2 more); "
           "use a larger grid.size or fewer model.blocks");
    grid.c = b.channels;
    shapes.push_back(grid);
    // A transition pools 2^3 windows: an edge below 2 leaves nothing for the next block.
    if (b.transition_weight >= 0) grid = grid.d >= 2 && grid.h >= 2 && grid.w >= 2 ? pool_output_shape(grid, kAgeTransitionPool) : Shape5{};
  }
  return shapes;
}

template <class Backend>
class AgeRegressor {
 public:
  using T = typename Backend::Scalar;

  // Buffers for up to `input.n` volumes of shape [1, D, H, W].
  AgeRegressor(const AgeRegressorLayout& layout, Backend backend, const Shape5& input) : layout_(layout), be_(backend), input_(input) {
    MDCSRN_ASSERT(input.c == 1 && input.n >= 1, "age model: the input is [N, 1, D, H, W], not " + input.str());
    stem_ = conv_output_shape(input, layout.config().features, kStem);
    block_shapes_ = age_block_shapes(layout, input);
    const MemoryKind m = Backend::memory;
    int64_t widest = stem_.numel(), block_features = 0;
    for (size_t b = 0; b < block_shapes_.size(); ++b) {
      const Shape5& s = block_shapes_[b];
      features_.emplace_back(m, s.numel());
      bottlenecks_.emplace_back(m, s.numel() / s.c * layout.bottleneck_channels() * int64_t(layout.blocks()[b].units.size()));
      feature_grads_.emplace_back(m, s.numel());
      widest = std::max({widest, s.numel(), s.numel() / s.c * layout.bottleneck_channels()});
      feature_stats_offsets_.push_back(block_features);
      block_features += s.c;
    }
    stem_out_ = Buffer<T>(m, stem_.numel());
    winners_ = Buffer<int32_t>(m, pool_output_shape(stem_, kStemPool).numel());
    for (Buffer<T>* b : {&scratch_a_, &scratch_b_, &scratch_c_}) *b = Buffer<T>(m, widest);
    const int64_t head = layout.norm5().channels;
    pooled_ = Buffer<T>(m, input.n * head);
    pooled_grad_ = Buffer<T>(m, input.n * head);
    for (Buffer<T>* b : {&feature_mean_, &feature_var_, &feature_invstd_}) *b = Buffer<T>(m, block_features);
    for (Buffer<T>* b : {&own_mean_, &own_var_, &own_invstd_}) *b = Buffer<T>(m, layout.norm_channels());
    running_ = Buffer<T>(m, 2 * int64_t(layout.norm_channels()));
    std::vector<T> running(size_t(2 * layout.norm_channels()), T(0));
    std::fill(running.begin() + layout.norm_channels(), running.end(), T(1));  // means 0, variances 1
    running_.upload(running);
  }

  const Shape5& input_shape() const { return input_; }
  const AgeRegressorLayout& layout() const { return layout_; }
  // Every block's feature shape at capacity (channels: the block's total).
  const std::vector<Shape5>& block_shapes() const { return block_shapes_; }
  // Running means ([norm_channels], NormLayer::stats_offset) then running variances.
  T* running_stats() const { return running_.data(); }
  T momentum = T(kBatchNormMomentum), eps = T(kBatchNormEps);

  // x: [n, 1, D, H, W] with n up to the capacity; out: [n, 1, 1, 1, 1]. Train mode normalises with
  // batch statistics and updates the running ones.
  void forward(const T* params, Tensor<const T> x, Tensor<T> out, NormMode mode) {
    check_batch(x, out);
    const int64_t n = x.shape.n;
    mode_ = mode;
    n_ = n;
    const AgeRegressorLayout& L = layout_;
    const Tensor<T> z0 = batch(stem_out_, stem_);
    be_.conv_forward(kStem, x, P(params, L.conv0_weight()), nullptr, z0);
    own_statistics(L.norm0(), z0);
    const Tensor<T> a0 = batch(scratch_a_, stem_);
    be_.batchnorm_activation_forward(z0, affine_own(params, L.norm0()), kRelu, a0);
    be_.max_pool_forward(kStemPool, a0, features(0).channels(0, L.config().features), winners_.data());
    for (size_t b = 0; b < L.blocks().size(); ++b) {
      const DenseBlockLayout& B = L.blocks()[b];
      const Tensor<T> X = features(b);
      statistics_end_ = 0;
      for (size_t u = 0; u < B.units.size(); ++u) {
        const DenseUnitLayout& U = B.units[u];
        const Tensor<T> a1 = scratch(scratch_a_, b, U.input_channels), z1 = bottleneck(b, u);
        normalise_features(params, U.norm1, b, X.channels(0, U.input_channels), a1);
        be_.conv_forward(kPointwise, a1, P(params, U.conv1_weight), nullptr, z1);
        own_statistics(U.norm2, z1);
        const Tensor<T> a2 = scratch(scratch_a_, b, L.bottleneck_channels());
        be_.batchnorm_activation_forward(z1, affine_own(params, U.norm2), kRelu, a2);
        be_.conv_forward(kUnit, a2, P(params, U.conv2_weight), nullptr, X.channels(U.output_channel, L.config().growth));
      }
      const Tensor<T> a = scratch(scratch_a_, b, B.channels);
      if (B.transition_weight < 0) {
        normalise_features(params, L.norm5(), b, X, a);
        be_.global_avg_pool_forward(a, pooled(pooled_));
        be_.linear_forward(pooled(pooled_), P(params, L.head_weight()), P(params, L.head_bias()), out);
        continue;
      }
      normalise_features(params, B.transition_norm, b, X, a);
      const Tensor<T> t = scratch(scratch_b_, b, B.transition_outputs);
      be_.conv_forward(kPointwise, a, P(params, B.transition_weight), nullptr, t);
      be_.avg_pool_forward(kTransitionPool, t, features(b + 1).channels(0, B.transition_outputs));
    }
  }

  // Writes every parameter gradient (overwriting grads) for the loss whose gradient with respect to
  // the last forward's output is dout. Uses the forward's activations and statistics: params must
  // not have changed in between, and mode must be the forward's.
  void backward(const T* params, T* grads, Tensor<const T> x, Tensor<const T> dout, NormMode mode) {
    MDCSRN_ASSERT(mode == mode_ && n_ == x.shape.n, "age model: backward needs a forward of the same batch in the same mode");
    check_batch(x, dout);
    const AgeRegressorLayout& L = layout_;
    be_.zero(grads, L.table().padded_size());
    for (size_t b = L.blocks().size(); b-- > 0;) {
      const DenseBlockLayout& B = L.blocks()[b];
      const Tensor<T> X = features(b), dX = feature_gradients(b);
      // The head or the transition reads every channel of the block: the first write to dX.
      const NormLayer& norm = B.transition_weight < 0 ? L.norm5() : B.transition_norm;
      const Tensor<T> a = scratch(scratch_a_, b, B.channels), da = scratch(scratch_c_, b, B.channels);
      if (B.transition_weight < 0) {
        be_.linear_backward_weight(pooled(pooled_), dout, G(grads, L.head_weight()), G(grads, L.head_bias()), GradMode::Overwrite);
        be_.linear_backward_data(P(params, L.head_weight()), dout, pooled(pooled_grad_), GradMode::Overwrite);
        be_.global_avg_pool_backward(pooled(pooled_grad_), da, GradMode::Overwrite);
      } else {
        const Tensor<T> dt = scratch(scratch_b_, b, B.transition_outputs);
        be_.avg_pool_backward(kTransitionPool, feature_gradients(b + 1).channels(0, B.transition_outputs), dt, GradMode::Overwrite);
        be_.batchnorm_activation_forward(X, affine_features(params, norm, b), kRelu, a);
        be_.conv_backward_weight(kPointwise, a, dt, G(grads, B.transition_weight), nullptr, GradMode::Overwrite);
        be_.conv_backward_data(kPointwise, P(params, B.transition_weight), dt, da, GradMode::Overwrite);
      }
      be_.batchnorm_activation_backward(mode, X, da, affine_features(params, norm, b), kRelu, dX, G(grads, norm.weight),
                                        G(grads, norm.bias), GradMode::Overwrite);
      for (size_t u = B.units.size(); u-- > 0;) {
        const DenseUnitLayout& U = B.units[u];
        const int bc = L.bottleneck_channels();
        const Tensor<const T> xin = X.channels(0, U.input_channels), z1 = bottleneck(b, u);
        const Tensor<T> a2 = scratch(scratch_a_, b, bc), da2 = scratch(scratch_b_, b, bc), dz1 = scratch(scratch_c_, b, bc);
        const Tensor<const T> dunit = dX.channels(U.output_channel, L.config().growth);
        be_.batchnorm_activation_forward(z1, affine_own(params, U.norm2), kRelu, a2);
        be_.conv_backward_weight(kUnit, a2, dunit, G(grads, U.conv2_weight), nullptr, GradMode::Overwrite);
        be_.conv_backward_data(kUnit, P(params, U.conv2_weight), dunit, da2, GradMode::Overwrite);
        be_.batchnorm_activation_backward(mode, z1, da2, affine_own(params, U.norm2), kRelu, dz1, G(grads, U.norm2.weight),
                                          G(grads, U.norm2.bias), GradMode::Overwrite);
        const Tensor<T> a1 = scratch(scratch_a_, b, U.input_channels), da1 = scratch(scratch_b_, b, U.input_channels);
        be_.batchnorm_activation_forward(xin, affine_features(params, U.norm1, b), kRelu, a1);
        be_.conv_backward_weight(kPointwise, a1, dz1, G(grads, U.conv1_weight), nullptr, GradMode::Overwrite);
        be_.conv_backward_data(kPointwise, P(params, U.conv1_weight), dz1, da1, GradMode::Overwrite);
        be_.batchnorm_activation_backward(mode, xin, da1, affine_features(params, U.norm1, b), kRelu, dX.channels(0, U.input_channels),
                                          G(grads, U.norm1.weight), G(grads, U.norm1.bias), GradMode::Accumulate);
      }
    }
    const Tensor<T> z0 = batch(stem_out_, stem_), da0 = batch(scratch_a_, stem_), dz0 = batch(scratch_b_, stem_);
    be_.max_pool_backward(kStemPool, winners_.data(), feature_gradients(0).channels(0, L.config().features), da0, GradMode::Overwrite);
    be_.batchnorm_activation_backward(mode, z0, da0, affine_own(params, L.norm0()), kRelu, dz0, G(grads, L.norm0().weight),
                                      G(grads, L.norm0().bias), GradMode::Overwrite);
    be_.conv_backward_weight(kStem, x, dz0, G(grads, L.conv0_weight()), nullptr, GradMode::Overwrite);
  }

 private:
  static constexpr ConvParams kStem = kAgeStem, kPointwise{1, 1, 0}, kUnit{3, 1, 1};
  static constexpr PoolWindow kStemPool = kAgeStemPool, kTransitionPool = kAgeTransitionPool;
  static constexpr ActivationSpec kRelu{Activation::Relu, 0.f};

  void check_batch(Tensor<const T> x, Tensor<const T> out) const {
    Shape5 expected = input_;
    expected.n = x.shape.n;
    MDCSRN_ASSERT(x.shape.n >= 1 && x.shape.n <= input_.n && x.shape == expected,
                   "age model: the input must be [n <= " + std::to_string(input_.n) + ", 1, " + std::to_string(input_.d) + ", " +
                       std::to_string(input_.h) + ", " + std::to_string(input_.w) + "], not " + x.shape.str());
    MDCSRN_ASSERT((out.shape == Shape5{x.shape.n, 1, 1, 1, 1}), "age model: the output must be [n, 1, 1, 1, 1]");
  }
  const T* P(const T* params, int index) const { return params + layout_.table().entry(index).offset; }
  T* G(T* grads, int index) const { return grads + layout_.table().entry(index).offset; }

  // Views of the current batch of n samples.
  Tensor<T> batch(const Buffer<T>& b, Shape5 s) const {
    s.n = n_;
    return Tensor<T>(b.data(), s);
  }
  Tensor<T> features(size_t b) const { return batch(features_[b], block_shapes_[b]); }
  Tensor<T> feature_gradients(size_t b) const { return batch(feature_grads_[b], block_shapes_[b]); }
  Tensor<T> scratch(const Buffer<T>& buffer, size_t b, int channels) const {
    Shape5 s = block_shapes_[b];
    s.c = channels;
    return batch(buffer, s);
  }
  Tensor<T> bottleneck(size_t b, size_t u) const {
    Shape5 s = block_shapes_[b];
    s.c = layout_.bottleneck_channels();
    s.n = n_;
    return Tensor<T>(bottlenecks_[b].data() + int64_t(u) * s.numel(), s);
  }
  Tensor<T> pooled(const Buffer<T>& b) const { return Tensor<T>(b.data(), Shape5{n_, layout_.norm5().channels, 1, 1, 1}); }

  T* running_mean(const NormLayer& l) const { return running_.data() + l.stats_offset; }
  T* running_var(const NormLayer& l) const { return running_.data() + layout_.norm_channels() + l.stats_offset; }

  // A layer with statistics of its own input (the stem's, the bottlenecks'): the batch's in
  // training (and the running update), its running statistics in eval.
  void own_statistics(const NormLayer& l, Tensor<const T> z) {
    T* mean = own_mean_.data() + l.stats_offset;
    T* invstd = own_invstd_.data() + l.stats_offset;
    if (mode_ == NormMode::Train) {
      T* var = own_var_.data() + l.stats_offset;
      be_.batchnorm_statistics(z, eps, mean, var, invstd);
      be_.batchnorm_update_running(mean, var, z.shape.n * z.shape.spatial(), momentum, running_mean(l), running_var(l), l.channels);
    } else {
      be_.batchnorm_running_statistics(running_mean(l), running_var(l), eps, mean, invstd, l.channels);
    }
  }
  BatchNormAffine<T> affine_own(const T* params, const NormLayer& l) const {
    return BatchNormAffine<T>{P(params, l.weight), P(params, l.bias), own_mean_.data() + l.stats_offset, own_invstd_.data() + l.stats_offset};
  }

  // act(BN(x)) of channels [0, x.c) of block b's features, by a layer that reads them: in
  // training, with the features' shared batch statistics, computed here for channels no earlier
  // layer of the block normalised.
  void normalise_features(const T* params, const NormLayer& l, size_t b, Tensor<const T> x, Tensor<T> a) {
    const int channels = int(x.shape.c);
    if (mode_ == NormMode::Train) {
      const int64_t base = feature_stats_offsets_[b];
      if (statistics_end_ < channels)
        be_.batchnorm_statistics(x.channels(statistics_end_, channels - statistics_end_), eps, feature_mean_.data() + base + statistics_end_,
                                 feature_var_.data() + base + statistics_end_, feature_invstd_.data() + base + statistics_end_);
      statistics_end_ = std::max(statistics_end_, channels);
      be_.batchnorm_update_running(feature_mean_.data() + base, feature_var_.data() + base, x.shape.n * x.shape.spatial(), momentum,
                                   running_mean(l), running_var(l), l.channels);
    } else {
      be_.batchnorm_running_statistics(running_mean(l), running_var(l), eps, own_mean_.data() + l.stats_offset,
                                       own_invstd_.data() + l.stats_offset, l.channels);
    }
    be_.batchnorm_activation_forward(x, affine_features(params, l, b), kRelu, a);
  }
  BatchNormAffine<T> affine_features(const T* params, const NormLayer& l, size_t b) const {
    if (mode_ != NormMode::Train) return affine_own(params, l);
    const int64_t base = feature_stats_offsets_[b];
    return BatchNormAffine<T>{P(params, l.weight), P(params, l.bias), feature_mean_.data() + base, feature_invstd_.data() + base};
  }

  const AgeRegressorLayout& layout_;
  Backend be_;
  Shape5 input_, stem_;
  std::vector<Shape5> block_shapes_;
  std::vector<int64_t> feature_stats_offsets_;  // block b's channels in the feature statistics
  NormMode mode_ = NormMode::Train;
  int64_t n_ = 0;
  int statistics_end_ = 0;  // channels of the current block with this batch's statistics
  std::vector<Buffer<T>> features_, bottlenecks_, feature_grads_;
  Buffer<T> stem_out_, scratch_a_, scratch_b_, scratch_c_, pooled_, pooled_grad_;
  Buffer<int32_t> winners_;
  Buffer<T> feature_mean_, feature_var_, feature_invstd_;  // [sum of block channels]: this batch's
  Buffer<T> own_mean_, own_var_, own_invstd_;              // [norm_channels]: own-input layers, and eval
  Buffer<T> running_;
};

// Initial parameters (host memory, padded like the arena), as MONAI's DenseNet: convolutions
// Kaiming-normal (fan in, gain sqrt 2), BatchNorm weight 1 and bias 0, the linear head's weight
// PyTorch's default (uniform, bound 1/sqrt(fan_in)) and bias 0. One Philox stream per tensor,
// apart from the generator's and the critic's.
std::vector<float> initial_age_regressor_parameters(const AgeRegressorLayout& layout, uint64_t seed);

}  // namespace mdcsrn
