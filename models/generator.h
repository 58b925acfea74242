#pragma once
// mDCSRN's generator with explicit forward and backward over one device backend. Features live in
// one buffer written at channel offsets (no concatenation copies). In training, the batch
// statistics of each feature channel are computed once, when the first unit that reads it runs,
// and shared by every later unit (each with its own gamma, beta and running statistics); a unit's
// BatchNorm and activation are one pass, which backward recomputes instead of storing.
#include <algorithm>
#include <vector>

#include "engine/memory.h"
#include "models/backend.h"
#include "models/generator_layout.h"

namespace mdcsrn {

// BatchNorm3d's defaults, as PyTorch's.
constexpr double kBatchNormEps = 1e-5, kBatchNormMomentum = 0.1;

template <class Backend>
class Generator {
 public:
  using T = typename Backend::Scalar;

  // Buffers for inputs of shape [N, 1, D, H, W].
  Generator(const GeneratorLayout& layout, Backend backend, const Shape5& input)
      : layout_(layout), be_(backend), input_(input) {
    MDCSRN_ASSERT(input.c == 1, "generator: the input has one channel");
    // The reconstruction reads every feature channel: backward's first write to each.
    MDCSRN_ASSERT(layout.reconstruction().distinct == layout.feature_channels(), "generator: the reconstruction must read every feature");
    const MemoryKind m = Backend::memory;
    for (Buffer<T>* b : {&feature_mean_, &feature_var_, &feature_invstd_}) *b = Buffer<T>(m, layout.feature_channels());
    unit_mean_ = Buffer<T>(m, layout.bn_channels());
    unit_invstd_ = Buffer<T>(m, layout.bn_channels());
    running_ = Buffer<T>(m, 2 * int64_t(layout.bn_channels()));
    std::vector<T> running(size_t(2 * layout.bn_channels()), T(0));
    std::fill(running.begin() + layout.bn_channels(), running.end(), T(1));  // means 0, variances 1
    running_.upload(running);
    folded_ = Buffer<T>(m, layout.folded_weights());
    folded_grads_ = Buffer<T>(m, layout.folded_weights());
    for (const MixLayout* mix : mixes()) {
      maps_.emplace_back(m, int64_t(mix->map.size()));
      maps_.back().upload(mix->map);
    }
  }

  const Shape5& input_shape() const { return input_; }
  const GeneratorLayout& layout() const { return layout_; }

  // Running means ([bn_channels]) then running variances, unit by unit (UnitLayout::stats_offset).
  T* running_stats() const { return running_.data(); }
  T momentum = T(kBatchNormMomentum), eps = T(kBatchNormEps);

  // Data-parallel training: this generator holds one rank's share of the ranks' global batch,
  // and BatchNorm normalises with the whole batch's statistics and back-propagates through them
  // (SyncBatchNorm), so every rank's running statistics are one process's.
  void synchronize_batchnorm(const Collectives& ranks) {
    MDCSRN_ASSERT(ranks.memory() == Backend::memory, "generator: the ranks' collectives are for another kind of memory");
    ranks_ = &ranks;
  }

  // out: [N, 1, D, H, W]. Train mode normalises with batch statistics and updates the running ones.
  void forward(const T* params, Tensor<const T> x, Tensor<T> out, NormMode mode) {
    MDCSRN_ASSERT(x.shape == input_ && out.shape == input_, "generator: input and output must be " + input_.str());
    const GeneratorLayout& L = layout_;
    const int k2 = 2 * L.config().growth;
    allocate_activations();
    const Tensor<T> X = features();
    mode_ = mode;
    be_.conv_forward(kConv3, x, P(params, L.conv0_weight()), nullptr, X.channels(0, k2));
    int statistics_end = 0;  // feature channels below it have this batch's statistics
    for (size_t b = 0; b < L.units().size(); ++b) {
      if (b > 0) mix_forward(params, L.compressors()[b - 1], b - 1, X.channels(L.compressors()[b - 1].output_channel, k2));
      for (const UnitLayout& u : L.units()[b]) {
        const int end = u.input_channel + u.input_channels;
        if (mode == NormMode::Train) {
          const int first_new = std::max(u.input_channel, statistics_end);
          if (first_new < end) batch_statistics(X.channels(first_new, end - first_new), first_new);
          statistics_end = std::max(statistics_end, end);
          be_.batchnorm_update_running(feature_mean_.data() + u.input_channel, feature_var_.data() + u.input_channel,
                                       global_batch() * input_.spatial(), momentum, running_mean(u), running_var(u), u.input_channels);
        } else {
          be_.batchnorm_running_statistics(running_mean(u), running_var(u), eps, unit_mean_.data() + u.stats_offset,
                                           unit_invstd_.data() + u.stats_offset, u.input_channels);
        }
        const Tensor<T> a = scratch(activated_, u.input_channels);
        be_.batchnorm_activation_forward(X.channels(u.input_channel, u.input_channels), affine(params, u), L.config().activation, a);
        be_.conv_forward(kConv3, a, P(params, u.conv_weight), nullptr, X.channels(u.output_channel, L.config().growth));
      }
    }
    mix_forward(params, L.reconstruction(), L.compressors().size(), out);
  }

  // Writes every parameter gradient (overwriting grads) for the loss whose gradient with respect
  // to the last forward's output is dout; with dx, the input's gradient too. Uses the forward's
  // features and statistics, so params must not have changed in between, and mode must be the
  // forward's.
  void backward(const T* params, T* grads, Tensor<const T> x, Tensor<const T> dout, NormMode mode, Tensor<T>* dx = nullptr) {
    MDCSRN_ASSERT(mode == mode_ && features_.data(), "generator: backward needs a forward in the same normalisation mode");
    const GeneratorLayout& L = layout_;
    const int k = L.config().growth, k2 = 2 * k;
    const Tensor<T> dX = feature_gradients();
    be_.zero(grads, L.table().padded_size());
    // The reconstruction's data gradient writes every feature channel first; the rest accumulate.
    mix_backward(grads, L.reconstruction(), L.compressors().size(), dout, GradMode::Overwrite);
    for (size_t b = L.units().size(); b-- > 0;) {
      for (size_t u = L.units()[b].size(); u-- > 0;) {
        const UnitLayout& unit = L.units()[b][u];
        const int c = unit.input_channels;
        const Tensor<const T> xin = features().channels(unit.input_channel, c);
        const Tensor<T> a = scratch(activated_, c), da = scratch(unit_grad_, c);
        const BatchNormAffine<T> bn = affine(params, unit);
        be_.batchnorm_activation_forward(xin, bn, L.config().activation, a);
        const Tensor<const T> dunit = dX.channels(unit.output_channel, k);
        be_.conv_backward_weight(kConv3, a, dunit, G(grads, unit.conv_weight), nullptr, GradMode::Accumulate);
        be_.conv_backward_data(kConv3, P(params, unit.conv_weight), dunit, da, GradMode::Overwrite);
        be_.batchnorm_activation_backward(mode, xin, da, bn, L.config().activation, dX.channels(unit.input_channel, c),
                                          G(grads, unit.bn_weight), G(grads, unit.bn_bias), GradMode::Accumulate, ranks_);
      }
      if (b > 0) {
        const MixLayout& m = L.compressors()[b - 1];
        mix_backward(grads, m, b - 1, dX.channels(m.output_channel, k2), GradMode::Accumulate);
      }
    }
    const Tensor<const T> df0 = dX.channels(0, k2);
    be_.conv_backward_weight(kConv3, x, df0, G(grads, L.conv0_weight()), nullptr, GradMode::Accumulate);
    if (dx) be_.conv_backward_data(kConv3, P(params, L.conv0_weight()), df0, *dx, GradMode::Overwrite);
  }

 private:
  static constexpr ConvParams kConv3{3, 1, 1};
  static constexpr ConvParams kConv1{1, 1, 0};

  // The features and their gradients, on the first forward: an executor that keeps only the
  // running statistics here (the fast path) never allocates them.
  void allocate_activations() {
    if (features_.data()) return;
    const int64_t spatial = input_.n * input_.spatial();
    const MemoryKind m = Backend::memory;
    features_ = Buffer<T>(m, int64_t(layout_.feature_channels()) * spatial);
    feature_grads_ = Buffer<T>(m, int64_t(layout_.feature_channels()) * spatial);
    for (Buffer<T>* b : {&activated_, &unit_grad_}) *b = Buffer<T>(m, int64_t(layout_.widest_unit_input()) * spatial);
  }
  const T* P(const T* params, int index) const { return params + layout_.table().entry(index).offset; }
  T* G(T* grads, int index) const { return grads + layout_.table().entry(index).offset; }
  Tensor<T> features() const { return Tensor<T>(features_.data(), with_channels(layout_.feature_channels())); }
  Tensor<T> feature_gradients() const { return Tensor<T>(feature_grads_.data(), with_channels(layout_.feature_channels())); }
  Tensor<T> scratch(const Buffer<T>& b, int channels) const { return Tensor<T>(b.data(), with_channels(channels)); }
  Shape5 with_channels(int c) const {
    Shape5 s = input_;
    s.c = c;
    return s;
  }
  int64_t global_batch() const { return input_.n * (ranks_ ? ranks_->size() : 1); }
  void batch_statistics(Tensor<const T> x, int first_channel) {
    be_.batchnorm_statistics(x, eps, feature_mean_.data() + first_channel, feature_var_.data() + first_channel,
                             feature_invstd_.data() + first_channel, ranks_);
  }
  T* running_mean(const UnitLayout& u) const { return running_.data() + u.stats_offset; }
  T* running_var(const UnitLayout& u) const { return running_.data() + layout_.bn_channels() + u.stats_offset; }
  // Unit u's normalisation: the shared batch statistics of its input channels in training, its
  // own running statistics in eval.
  BatchNormAffine<T> affine(const T* params, const UnitLayout& u) const {
    const bool batch = mode_ == NormMode::Train;
    return BatchNormAffine<T>{P(params, u.bn_weight), P(params, u.bn_bias),
                              batch ? feature_mean_.data() + u.input_channel : unit_mean_.data() + u.stats_offset,
                              batch ? feature_invstd_.data() + u.input_channel : unit_invstd_.data() + u.stats_offset};
  }
  std::vector<const MixLayout*> mixes() const {
    std::vector<const MixLayout*> all;
    for (const MixLayout& m : layout_.compressors()) all.push_back(&m);
    all.push_back(&layout_.reconstruction());
    return all;
  }

  void fold(const T* params, const MixLayout& m, size_t map_index) {
    be_.fold_weights(P(params, m.weight), maps_[map_index].data(), m.outputs, int64_t(m.map.size()), m.distinct,
                     folded_.data() + m.folded_offset);
  }

  // A 1x1x1 conv over the concatenation, run on the distinct channels with folded weights.
  void mix_forward(const T* params, const MixLayout& m, size_t map_index, Tensor<T> out) {
    fold(params, m, map_index);
    be_.conv_forward(kConv1, features().channels(0, m.distinct), folded_.data() + m.folded_offset, nullptr, out);
  }

  void mix_backward(T* grads, const MixLayout& m, size_t map_index, Tensor<const T> dout, GradMode feature_grad_mode) {
    T* dfolded = folded_grads_.data() + m.folded_offset;
    be_.conv_backward_weight(kConv1, features().channels(0, m.distinct), dout, dfolded, nullptr, GradMode::Overwrite);
    be_.unfold_grads(dfolded, maps_[map_index].data(), m.outputs, int64_t(m.map.size()), m.distinct, G(grads, m.weight), GradMode::Accumulate);
    be_.conv_backward_data(kConv1, folded_.data() + m.folded_offset, dout, feature_gradients().channels(0, m.distinct), feature_grad_mode);
  }

  const GeneratorLayout& layout_;
  Backend be_;
  Shape5 input_;
  NormMode mode_ = NormMode::Train;
  Buffer<T> features_, feature_grads_, activated_, unit_grad_;
  Buffer<T> feature_mean_, feature_var_, feature_invstd_;  // [feature_channels]: this batch's statistics
  Buffer<T> unit_mean_, unit_invstd_;                      // [bn_channels]: eval mode, from each unit's running statistics
  Buffer<T> running_, folded_, folded_grads_;
  std::vector<Buffer<int32_t>> maps_;
  const Collectives* ranks_ = nullptr;  // data-parallel ranks, if any
};

// Initial parameters (host memory, padded like the arena): Kaiming-uniform (gain sqrt 2) on conv0,
// the compressors and the reconstruction, as the authors' code; PyTorch's default conv init
// (uniform, bound 1/sqrt(fan_in)) on the units; BatchNorm weight 1, bias 0. Philox stream per
// parameter tensor, so the same seed gives the same network on any machine.
std::vector<float> initial_generator_parameters(const GeneratorLayout& layout, uint64_t seed);

}  // namespace mdcsrn
