#pragma once
// The generator's forward on the fast path (kernels/fused): every feature in one NDHWC bf16 buffer,
// conv0 as a direct stem, each unit a tensor-core convolution with its BatchNorm and activation in
// the prologue and the batch statistics of its outputs from its epilogue, the compressors as
// tensor-core GEMMs, the reconstruction a dot product per voxel; fp32 accumulation, fp32 master
// weights. The units' bf16 weights, in the layout their kernel reads, come from the Adam pass that
// updated them (update()) or, after any other change of the parameters, from the forward itself. Until the fused backward exists, a training step's
// backward is the reference generator's: the forward hands it fp32 copies of the features and the
// batch statistics (Generator::adopt_train_forward), so it runs unchanged.
#include <string>
#include <vector>

#include "engine/memory.h"
#include "kernels/batchnorm.h"
#include "kernels/channel_fold.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/mix.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/unit_forward.h"
#include "models/backend.h"
#include "models/generator.h"

namespace mdcsrn {

// Why the fast path does not cover a configuration, or "" when it does: units of 16 channels whose
// widths, the compressors' inputs and the feature buffer are multiples of 16.
inline std::string fast_path_unsupported(const GeneratorLayout& L) {
  if (L.config().growth != UnitTile::kOutputs) return "growth " + std::to_string(L.config().growth) + " (the fast units produce 16 channels)";
  for (const MixLayout& m : L.compressors())
    if (m.distinct % 16 != 0 || m.outputs != kCompressorOutputs) return "a compressor over " + std::to_string(m.distinct) + " channels";
  return L.feature_channels() % 16 == 0 ? "" : std::to_string(L.feature_channels()) + " feature channels";
}

template <class Context>
class FastForward {
 public:
  using Backend = GpuBackendOn<Context>;

  FastForward(const GeneratorLayout& layout, Context& ctx, const Shape5& input) : layout_(layout), ctx_(ctx), input_(input) {
    const std::string why = fast_path_unsupported(layout);
    MDCSRN_REQUIRE(why.empty(), "fast path: not for " + why);
    const MemoryKind m = Context::memory;
    const int channels = layout.feature_channels();
    features_ = Buffer<uint16_t>(m, input.n * input.spatial() * channels);
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
    scale_ = Buffer<float>(m, layout.widest_unit_input());
    shift_ = Buffer<float>(m, layout.widest_unit_input());
    unit_mean_ = Buffer<float>(m, layout.bn_channels());
    unit_invstd_ = Buffer<float>(m, layout.bn_channels());
    for (Buffer<float>* b : {&eval_mean_, &eval_var_, &eval_invstd_}) *b = Buffer<float>(m, channels);
  }

  // out = G(x) ([N, 1, D, H, W] fp32). Train mode normalises with the batch statistics, updates
  // the reference generator's running statistics and leaves it ready for backward; eval mode
  // normalises with its running statistics.
  void forward(const float* params, Tensor<const float> x, Tensor<float> out, NormMode mode, Generator<Backend>& reference) {
    if (mode == NormMode::Eval) return forward_eval(params, reference.running_stats(), reference.eps, x, out);
    typename Generator<Backend>::TrainState state = reference.adopt_train_forward(params);
    run(params, x, out, NormMode::Train, reference.running_stats(), reference.running_stats(), reference.eps, reference.momentum, state.mean,
        state.var, state.invstd);
    const ChannelsLast f = features();
    gpu::planes_from_channels_last(ctx_, f, 0, state.features);
  }

  // Eval mode with the given running statistics (means then variances, as Generator::running_stats()),
  // for inference, which needs no reference generator.
  void forward_eval(const float* params, const float* running, float eps, Tensor<const float> x, Tensor<float> out) {
    run(params, x, out, NormMode::Eval, running, nullptr, eps, 0.f, eval_mean_.data(), eval_var_.data(), eval_invstd_.data());
  }

  // Adam over the generator's arena that also writes the units' bf16 weights for the next forward.
  void update(const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count) {
    MDCSRN_REQUIRE(count == copy_index_.size(), "fast path: Adam runs over the whole generator arena");
    gpu::adam_with_copies(ctx_, s, params, grads, m, v, count, copy_index_.data(), unit_weights_.data());
    weights_current_ = true;
    packed_params_ = params;
  }

 private:
  ChannelsLast features() const {
    return ChannelsLast{features_.data(), volume_shape(input_),
                        layout_.feature_channels()};
  }

  // The forward; mean, var and invstd receive every produced channel's batch statistics. Eval
  // mode reads `running`; train mode updates `updated_running` (the same statistics).
  void run(const float* params, Tensor<const float> x, Tensor<float> out, NormMode mode, const float* running, float* updated_running,
           float eps, float momentum, float* mean, float* var, float* invstd) {
    MDCSRN_REQUIRE(x.shape == input_ && out.shape == input_ && out.contiguous(), "fast path: input and output must be " + input_.str());
    const GeneratorLayout& L = layout_;
    const ChannelsLast f = features();
    const ActivationSpec act = L.config().activation;
    const bool weights_current = weights_current_ && params == packed_params_;
    weights_current_ = false;

    gpu::stem_forward(ctx_, x, P(params, L.conv0_weight()), f, eps, mean, var, invstd);
    size_t unit_index = 0;
    for (size_t b = 0; b < L.units().size(); ++b) {
      if (b > 0) {
        const MixLayout& m = L.compressors()[b - 1];
        fold(params, m, b - 1);
        gpu::pack_compressor_weights(ctx_, folded_.data() + m.folded_offset, m.distinct, compressor_weights_[b - 1].data());
        gpu::compressor_forward(ctx_, f, m.distinct, compressor_weights_[b - 1].data(), m.output_channel, eps, mean + m.output_channel,
                                var + m.output_channel, invstd + m.output_channel);
      }
      for (const UnitLayout& u : L.units()[b]) {
        const int64_t running_mean = u.stats_offset, running_var = L.bn_channels() + u.stats_offset;
        const float* unit_mean = mean + u.input_channel;
        const float* unit_invstd = invstd + u.input_channel;
        if (mode == NormMode::Train) {
          gpu::batchnorm_update_running(ctx_, mean + u.input_channel, var + u.input_channel, input_.n * input_.spatial(), momentum,
                                        updated_running + running_mean, updated_running + running_var, u.input_channels);
        } else {
          gpu::batchnorm_running_statistics(ctx_, running + running_mean, running + running_var, eps, unit_mean_.data() + u.stats_offset,
                                            unit_invstd_.data() + u.stats_offset, u.input_channels);
          unit_mean = unit_mean_.data() + u.stats_offset;
          unit_invstd = unit_invstd_.data() + u.stats_offset;
        }
        gpu::fold_batchnorm(ctx_, P(params, u.bn_weight), P(params, u.bn_bias), unit_mean, unit_invstd, u.input_channels, scale_.data(),
                            shift_.data());
        uint32_t* packed = reinterpret_cast<uint32_t*>(unit_weights_.data() + unit_weight_offsets_[unit_index++]);
        if (!weights_current) gpu::pack_unit_weights(ctx_, P(params, u.conv_weight), u.input_channels, packed);
        UnitForward uf;
        uf.input = UnitInput{f.data, f.shape, f.stride, u.input_channel, u.input_channels, scale_.data(), shift_.data(), act};
        uf.weights = packed;
        uf.output = f.data;
        uf.output_channel = u.output_channel;
        gpu::unit_forward(ctx_, uf, eps, mean + u.output_channel, var + u.output_channel, invstd + u.output_channel);
      }
    }
    const MixLayout& r = L.reconstruction();
    fold(params, r, L.compressors().size());
    gpu::reconstruction_forward(ctx_, f, r.distinct, folded_.data() + r.folded_offset, out.data);
  }

  const float* P(const float* params, int index) const { return params + layout_.table().entry(index).offset; }
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
  Buffer<uint16_t> features_;
  Buffer<uint16_t> unit_weights_;           // every unit's packed weights (kernels/fused/unit_forward.h)
  std::vector<int64_t> unit_weight_offsets_;  // where each unit's start, in bf16 elements
  Buffer<int32_t> copy_index_;              // [arena]: a parameter's element in unit_weights_, or -1
  bool weights_current_ = false;            // set by update(), used by the next forward of the same parameters
  const float* packed_params_ = nullptr;
  std::vector<Buffer<uint32_t>> compressor_weights_;
  Buffer<float> folded_, scale_, shift_, unit_mean_, unit_invstd_;
  Buffer<float> eval_mean_, eval_var_, eval_invstd_;  // eval mode: the producers' statistics, unused
  std::vector<Buffer<int32_t>> maps_;
};

// The fast forward a backend can have: FastForward for the GPU backends, none for the CPU's.
struct NoFastForward {};
template <class Backend>
struct FastForwardOf {
  using type = NoFastForward;
};
template <class Context>
struct FastForwardOf<GpuBackendOn<Context>> {
  using type = FastForward<Context>;
};

}  // namespace mdcsrn
