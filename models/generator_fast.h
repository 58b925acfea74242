#pragma once
// The generator on the fast path (kernels/fused): every feature in one NDHWC bf16 buffer, conv0 as
// a direct stem, each unit a tensor-core convolution with its BatchNorm and activation in the
// prologue and the batch statistics of its outputs from its epilogue, the compressors as
// tensor-core GEMMs, the reconstruction a dot product per voxel; fp32 accumulation, fp32 master
// weights. The units' bf16 weights, in the layout their kernel reads, come from the Adam pass that
// updated them (update()) or, after any other change of the parameters, from the forward itself.
//
// Backward runs block by block, last first, over deferred gradients (kernels/fused/deferred_gradient.h):
// one GEMM writes a block's raw feature gradients from the output gradients of every 1x1 layer
// that reads them (kept side by side, kernels/fused/mix.h); each unit, last first, takes its weight
// gradient and adds its data gradient's contributions to its inputs'; then the block's first
// producer (a compressor, or conv0) takes the gradient of its outputs. Only one block's raw
// gradients exist at a time.
#include <string>
#include <vector>

#include "engine/memory.h"
#include "kernels/batchnorm.h"
#include "kernels/channel_fold.h"
#include "kernels/cpu_fused/kernels.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/mix.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"
#include "models/backend.h"
#include "models/generator.h"

namespace mdcsrn {

// The columns of the 1x1 layers' output gradients: 32 per compressor, then the reconstruction's.
inline int mix_gradient_columns(const GeneratorLayout& L) { return kCompressorOutputs * int(L.compressors().size()) + kReconstructionColumns; }

// Why the fast path does not cover a configuration, or "" when it does: units of 16 channels whose
// widths, the compressors' inputs and the feature buffer are multiples of 16, and few enough
// blocks for the 1x1 layers' data-gradient GEMM.
inline std::string fast_path_unsupported(const GeneratorLayout& L) {
  if (L.config().growth != UnitTile::kOutputs) return "growth " + std::to_string(L.config().growth) + " (the fast units produce 16 channels)";
  for (const MixLayout& m : L.compressors())
    if (m.distinct % 16 != 0 || m.outputs != kCompressorOutputs) return "a compressor over " + std::to_string(m.distinct) + " channels";
  if (mix_gradient_columns(L) > kMaxMixGradientColumns) return std::to_string(L.config().blocks) + " blocks (at most 4)";
  return L.feature_channels() % 16 == 0 ? "" : std::to_string(L.feature_channels()) + " feature channels";
}

// The backend of the reference generator whose running statistics a fast generator on Context
// keeps: the GPU backend on the same context, or for the fused CPU kernels the CPU's.
template <class Context>
struct ReferenceBackendOf {
  using type = GpuBackendOn<Context>;
};
template <>
struct ReferenceBackendOf<CpuFusedContext> {
  using type = CpuBackend<float>;
};

template <class Context>
class FastGenerator {
 public:
  using Backend = typename ReferenceBackendOf<Context>::type;

  FastGenerator(const GeneratorLayout& layout, Context& ctx, const Shape5& input) : layout_(layout), ctx_(ctx), input_(input) {
    const std::string why = fast_path_unsupported(layout);
    MDCSRN_REQUIRE(why.empty(), "fast path: not for " + why);
    const MemoryKind m = Context::memory;
    const int channels = layout.feature_channels();
    features_ = Buffer<uint16_t>(m, voxels() * channels);
    // Every unit's packed bf16 weights in one buffer, and where each parameter goes in it.
    std::vector<int32_t> copy_index(size_t(layout.table().padded_size()), -1);
    int64_t elements = 0;
    for (const auto& block : layout.units())
      for (const UnitLayout& u : block) {
        unit_weight_offsets_.push_back(elements);
        const int64_t first = layout.table().entry(u.conv_weight).offset;
        for (int o = 0; o < UnitTile::kOutputs; ++o)
          for (int c = 0; c < u.input_channels; ++c)
            for (int tap = 0; tap < 27; ++tap)
              copy_index[size_t(first + (int64_t(o) * u.input_channels + c) * 27 + tap)] =
                  int32_t(elements + packed_unit_weight_element(u.input_channels, o, c, tap));
        elements += 2 * packed_unit_weight_words(u.input_channels);
      }
    unit_weights_ = Buffer<uint16_t>(m, elements);
    copy_index_ = Buffer<int32_t>(m, int64_t(copy_index.size()));
    copy_index_.upload(copy_index);
    for (const MixLayout& c : layout.compressors()) compressor_weights_.emplace_back(m, packed_compressor_weight_words(c.distinct));
    folded_ = Buffer<float>(m, layout.folded_weights());
    for (const MixLayout* mix : mixes()) {
      maps_.emplace_back(m, int64_t(mix->map.size()));
      maps_.back().upload(mix->map);
    }
    scale_ = Buffer<float>(m, layout.bn_channels());
    shift_ = Buffer<float>(m, layout.bn_channels());
    unit_mean_ = Buffer<float>(m, layout.bn_channels());
    unit_invstd_ = Buffer<float>(m, layout.bn_channels());
    for (Buffer<float>* b : {&mean_, &var_, &invstd_, &eval_mean_, &eval_var_, &eval_invstd_}) *b = Buffer<float>(m, channels);
    adam_step_ = Buffer<AdamStep>(m, 1);
  }

  // Data-parallel training: x is this rank's share of the ranks' global batch; every producer's
  // statistics merge every rank's tile partials, and BatchNorm's backward the whole batch's sums
  // (dgamma and dbeta stay this rank's), as Generator::synchronize_batchnorm.
  void synchronize_batchnorm(const Collectives& ranks) {
    MDCSRN_ASSERT(ranks.memory() == Context::memory, "fast path: the ranks' collectives are for another kind of memory");
    ranks_ = &ranks;
  }

  // out = G(x) ([N, 1, D, H, W] fp32). Train mode normalises with the batch statistics, updates
  // the reference generator's running statistics and keeps what backward reads; eval mode
  // normalises with its running statistics.
  void forward(const float* params, Tensor<const float> x, Tensor<float> out, NormMode mode, Generator<Backend>& reference) {
    if (mode == NormMode::Eval) return forward_eval(params, reference.running_stats(), reference.eps, x, out);
    run(params, x, out, NormMode::Train, reference.running_stats(), reference.running_stats(), reference.eps, reference.momentum, mean_.data(),
        var_.data(), invstd_.data());
    trained_params_ = params;
  }

  // Eval mode with the given running statistics (means then variances, as Generator::running_stats()),
  // for inference, which needs no reference generator.
  void forward_eval(const float* params, const float* running, float eps, Tensor<const float> x, Tensor<float> out) {
    run(params, x, out, NormMode::Eval, running, nullptr, eps, 0.f, eval_mean_.data(), eval_var_.data(), eval_invstd_.data());
  }

  // Every parameter gradient (overwriting grads, padding included) for the loss whose gradient with
  // respect to the last train forward's output is dout ([N, 1, D, H, W] fp32); params must be that
  // forward's.
  void backward(const float* params, float* grads, Tensor<const float> x, Tensor<const float> dout) {
    MDCSRN_ASSERT(params == trained_params_ && trained_params_ != nullptr, "fast path: backward needs a train forward of the same parameters");
    MDCSRN_ASSERT(x.shape == input_ && dout.shape == input_ && dout.contiguous(), "fast path: input and output gradient must be " + input_.str());
    const GeneratorLayout& L = layout_;
    allocate_backward();
    const ChannelsLast f = features();
    const MixGradients G{mix_gradients_.data(), voxels(), mix_gradient_columns(L)};
    const int rec_column = kCompressorOutputs * int(L.compressors().size());
    ctx_.zero(grads, sizeof(float) * size_t(L.table().padded_size()));
    ctx_.zero(coefficient_b_.data(), sizeof(float) * size_t(L.feature_channels()));
    ctx_.zero(coefficient_c_.data(), sizeof(float) * size_t(L.feature_channels()));

    const MixLayout& r = L.reconstruction();
    gpu::reconstruction_output_gradient(ctx_, dout.data, G, rec_column);
    mix_weight_gradient(f, r, L.compressors().size(), G, rec_column, grads);
    for (size_t b = L.units().size(); b-- > 0;) {
      const int first = L.block_input(int(b));
      const DeferredGradient g{raw_.data(), block_width_, first, coefficient_b_.data(), coefficient_c_.data()};
      const int column = kCompressorOutputs * int(b);
      gpu::pack_mix_data_gradient_weights(ctx_, folded_.data(), column_rows_[b].data(), G.columns - column, first, block_channels(b),
                                          mix_data_weights_.data());
      gpu::mix_data_gradient(ctx_, G, column, mix_data_weights_.data(), g, first, block_channels(b));
      for (size_t k = L.units()[b].size(); k-- > 0;) {
        const UnitLayout& u = L.units()[b][k];
        UnitBackward ub;
        ub.input = unit_input(u);
        ub.output_channel = u.output_channel;
        ub.gradient = g;
        gpu::unit_weight_gradient(ctx_, ub, grad_of(grads, u.conv_weight));
        gpu::pack_unit_data_gradient_weights(ctx_, P(params, u.conv_weight), u.input_channels, unit_data_weights_.data());
        UnitDataGradient d;
        d.weights = unit_data_weights_.data();
        d.mean = mean_.data() + u.input_channel;
        d.invstd = invstd_.data() + u.input_channel;
        d.gamma_grad = grad_of(grads, u.bn_weight);
        d.beta_grad = grad_of(grads, u.bn_bias);
        gpu::unit_data_gradient(ctx_, ub, d, ranks_);
      }
      if (b > 0) {
        const MixLayout& m = L.compressors()[b - 1];
        const int compressor_column = kCompressorOutputs * int(b - 1);
        gpu::compressor_output_gradient(ctx_, f, g, m.output_channel, G, compressor_column);
        mix_weight_gradient(f, m, b - 1, G, compressor_column, grads);
      } else {
        gpu::stem_weight_gradient(ctx_, x, f, g, grad_of(grads, L.conv0_weight()));
      }
    }
  }

  // Adam over the generator's arena that also writes the units' bf16 weights for the next forward.
  void update(const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count) {
    gpu::store_adam_step(ctx_, s, adam_step_.data());
    update_at(adam_step_.data(), params, grads, m, v, count);
  }
  // The same with Adam's constants in device memory (a step graph's schedule).
  void update_at(const AdamStep* s, float* params, const float* grads, float* m, float* v, int64_t count) {
    MDCSRN_ASSERT(count == copy_index_.size(), "fast path: Adam runs over the whole generator arena");
    gpu::adam_with_copies(ctx_, s, params, grads, m, v, count, copy_index_.data(), unit_weights_.data());
    weights_current_ = true;
    packed_params_ = params;
    trained_params_ = nullptr;
  }

 private:
  int64_t voxels() const { return input_.n * input_.spatial(); }
  ChannelsLast features() const { return ChannelsLast{features_.data(), volume_shape(input_), layout_.feature_channels()}; }
  int block_channels(size_t b) const {
    const size_t next = b + 1;
    return (next < layout_.units().size() ? layout_.block_input(int(next)) : layout_.feature_channels()) - layout_.block_input(int(b));
  }
  UnitInput unit_input(const UnitLayout& u) const {
    const ChannelsLast f = features();
    return UnitInput{f.data, f.shape, f.stride, u.input_channel, u.input_channels, scale_.data() + u.stats_offset,
                     shift_.data() + u.stats_offset, layout_.config().activation};
  }

  // Backward's buffers, on its first call (inference never needs them): one block's raw
  // gradients, the feature channels' coefficients, the 1x1 layers' output gradients, packed
  // weights, and per block the rows of the folded weights its data-gradient GEMM reads.
  void allocate_backward() {
    if (raw_.data()) return;
    const GeneratorLayout& L = layout_;
    const MemoryKind m = Context::memory;
    int widest = 0;
    for (size_t b = 0; b < L.units().size(); ++b) widest = std::max(widest, block_channels(b));
    block_width_ = (widest + 7) / 8 * 8;
    raw_ = Buffer<float>(m, voxels() * block_width_);
    coefficient_b_ = Buffer<float>(m, L.feature_channels());
    coefficient_c_ = Buffer<float>(m, L.feature_channels());
    const int columns = mix_gradient_columns(L);
    mix_gradients_ = Buffer<uint16_t>(m, voxels() * columns);
    mix_data_weights_ = Buffer<uint32_t>(m, packed_mix_data_gradient_words(columns, widest));
    unit_data_weights_ = Buffer<uint32_t>(m, packed_unit_data_gradient_words(L.widest_unit_input()));
    folded_grads_ = Buffer<float>(m, L.folded_weights());
    for (size_t b = 0; b < L.units().size(); ++b) {
      // Column k of block b's GEMM: output k % 32 of compressor b + k / 32, then the reconstruction.
      std::vector<int32_t> rows(size_t(columns - kCompressorOutputs * int(b)), -1);
      for (size_t k = 0; k < rows.size(); ++k) {
        const size_t compressor = b + k / kCompressorOutputs;
        if (compressor < L.compressors().size()) {
          const MixLayout& c = L.compressors()[compressor];
          rows[k] = int32_t(c.folded_offset + int64_t(k % kCompressorOutputs) * c.distinct);
        } else if (k % kCompressorOutputs == 0) {
          rows[k] = int32_t(L.reconstruction().folded_offset);
        }
      }
      column_rows_.emplace_back(m, int64_t(rows.size()));
      column_rows_.back().upload(rows);
    }
  }

  // A 1x1 layer's weight gradient over the distinct channels, unfolded into its parameter's.
  void mix_weight_gradient(const ChannelsLast& f, const MixLayout& m, size_t map_index, const MixGradients& G, int column, float* grads) {
    float* dfolded = folded_grads_.data() + m.folded_offset;
    gpu::mix_weight_gradient(ctx_, f, m.distinct, G, column, m.outputs, dfolded);
    gpu::unfold_grads(ctx_, dfolded, maps_[map_index].data(), m.outputs, int64_t(m.map.size()), m.distinct, grad_of(grads, m.weight),
                      GradMode::Overwrite);
  }

  // The forward; mean, var and invstd receive every produced channel's batch statistics. Eval
  // mode reads `running`; train mode updates `updated_running` (the same statistics).
  void run(const float* params, Tensor<const float> x, Tensor<float> out, NormMode mode, const float* running, float* updated_running,
           float eps, float momentum, float* mean, float* var, float* invstd) {
    MDCSRN_ASSERT(x.shape == input_ && out.shape == input_ && out.contiguous(), "fast path: input and output must be " + input_.str());
    const GeneratorLayout& L = layout_;
    const ChannelsLast f = features();
    const bool weights_current = weights_current_ && params == packed_params_;
    weights_current_ = false;
    trained_params_ = nullptr;

    // Eval mode's statistics of the producers are unused: no exchange for them.
    const Collectives* ranks = mode == NormMode::Train ? ranks_ : nullptr;
    gpu::stem_forward(ctx_, x, P(params, L.conv0_weight()), f, eps, mean, var, invstd, ranks);
    size_t unit_index = 0;
    for (size_t b = 0; b < L.units().size(); ++b) {
      if (b > 0) {
        const MixLayout& m = L.compressors()[b - 1];
        fold(params, m, b - 1);
        gpu::pack_compressor_weights(ctx_, folded_.data() + m.folded_offset, m.distinct, compressor_weights_[b - 1].data());
        gpu::compressor_forward(ctx_, f, m.distinct, compressor_weights_[b - 1].data(), m.output_channel, eps, mean + m.output_channel,
                                var + m.output_channel, invstd + m.output_channel, ranks);
      }
      for (const UnitLayout& u : L.units()[b]) {
        const int64_t running_mean = u.stats_offset, running_var = L.bn_channels() + u.stats_offset;
        const float* unit_mean = mean + u.input_channel;
        const float* unit_invstd = invstd + u.input_channel;
        if (mode == NormMode::Train) {
          gpu::batchnorm_update_running(ctx_, mean + u.input_channel, var + u.input_channel, voxels() * (ranks ? ranks->size() : 1), momentum,
                                        updated_running + running_mean, updated_running + running_var, u.input_channels);
        } else {
          gpu::batchnorm_running_statistics(ctx_, running + running_mean, running + running_var, eps, unit_mean_.data() + u.stats_offset,
                                            unit_invstd_.data() + u.stats_offset, u.input_channels);
          unit_mean = unit_mean_.data() + u.stats_offset;
          unit_invstd = unit_invstd_.data() + u.stats_offset;
        }
        gpu::fold_batchnorm(ctx_, P(params, u.bn_weight), P(params, u.bn_bias), unit_mean, unit_invstd, u.input_channels,
                            scale_.data() + u.stats_offset, shift_.data() + u.stats_offset);
        uint32_t* packed = reinterpret_cast<uint32_t*>(unit_weights_.data() + unit_weight_offsets_[unit_index++]);
        if (!weights_current) gpu::pack_unit_weights(ctx_, P(params, u.conv_weight), u.input_channels, packed);
        UnitForward uf;
        uf.input = unit_input(u);
        uf.weights = packed;
        uf.output = f.data;
        uf.output_channel = u.output_channel;
        gpu::unit_forward(ctx_, uf, eps, mean + u.output_channel, var + u.output_channel, invstd + u.output_channel, ranks);
      }
    }
    const MixLayout& r = L.reconstruction();
    fold(params, r, L.compressors().size());
    gpu::reconstruction_forward(ctx_, f, r.distinct, folded_.data() + r.folded_offset, out.data);
  }

  const float* P(const float* params, int index) const { return params + layout_.table().entry(index).offset; }
  float* grad_of(float* grads, int index) const { return grads + layout_.table().entry(index).offset; }
  std::vector<const MixLayout*> mixes() const {
    std::vector<const MixLayout*> all;
    for (const MixLayout& m : layout_.compressors()) all.push_back(&m);
    all.push_back(&layout_.reconstruction());
    return all;
  }
  void fold(const float* params, const MixLayout& m, size_t map_index) {
    gpu::fold_weights(ctx_, P(params, m.weight), maps_[map_index].data(), m.outputs, int64_t(m.map.size()), m.distinct,
                      folded_.data() + m.folded_offset);
  }

  const GeneratorLayout& layout_;
  Context& ctx_;
  Shape5 input_;
  const Collectives* ranks_ = nullptr;  // data-parallel ranks, if any
  Buffer<uint16_t> features_;
  Buffer<uint16_t> unit_weights_;             // every unit's packed weights (kernels/fused/unit_forward.h)
  std::vector<int64_t> unit_weight_offsets_;  // where each unit's start, in bf16 elements
  Buffer<int32_t> copy_index_;                // [arena]: a parameter's element in unit_weights_, or -1
  bool weights_current_ = false;              // set by update(), used by the next forward of the same parameters
  const float* packed_params_ = nullptr;
  const float* trained_params_ = nullptr;     // the parameters of the train forward backward may follow
  std::vector<Buffer<uint32_t>> compressor_weights_;
  Buffer<float> folded_;
  Buffer<float> scale_, shift_;                       // [bn_channels]: each unit's folded BatchNorm
  Buffer<float> unit_mean_, unit_invstd_;             // [bn_channels]: eval mode, from the running statistics
  Buffer<float> mean_, var_, invstd_;                 // [feature channels]: the train forward's batch statistics
  Buffer<float> eval_mean_, eval_var_, eval_invstd_;  // eval mode: the producers' statistics, unused
  std::vector<Buffer<int32_t>> maps_;
  Buffer<AdamStep> adam_step_;  // update()'s constants, in device memory for the Adam kernel
  // Backward's (allocate_backward).
  int block_width_ = 0;
  Buffer<float> raw_, coefficient_b_, coefficient_c_, folded_grads_;
  Buffer<uint16_t> mix_gradients_;
  Buffer<uint32_t> mix_data_weights_, unit_data_weights_;
  std::vector<Buffer<int32_t>> column_rows_;
};

// The fast generator a backend can have: FastGenerator on the GPU backends' context, on the fused
// CPU kernels for the CPU's fp32 backend, none for the double one (the finite-difference reference).
struct NoFastGenerator {};
template <class Backend>
struct FastGeneratorOf {
  using type = NoFastGenerator;
};
template <class Context>
struct FastGeneratorOf<GpuBackendOn<Context>> {
  using type = FastGenerator<Context>;
};
template <>
struct FastGeneratorOf<CpuBackend<float>> {
  using type = FastGenerator<CpuFusedContext>;
};

}  // namespace mdcsrn
