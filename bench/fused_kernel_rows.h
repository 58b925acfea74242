#pragma once
// The fast path's kernels as rows of one table: each kernel of the b4u4 generator's training step
// at the step's shapes, with its instances a step, its FLOPs and the bytes it must move at least,
// and a call that runs it once on a context. bench_fused_kernels times the rows on a GPU and
// bench_kernel_counts counts them under the SIMT emulator: the same list, so that the device's
// roofline and the emulator's prediction compare row by row, by name.
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/memory.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "models/generator_fast.h"

namespace mdcsrn::bench {

struct FusedKernelRow {
  std::string kernel;
  int per_step = 1;
  double flop = 0, bytes = 0;  // bytes: the least the kernel must move
  std::function<void()> run;
};

// The operands every row reads and writes, in the context's memory, every byte set to a pattern
// (0x3c: bf16 and fp32 0.0115; 0xff in the copy index: -1, no copies) so that no row reads NaN.
template <class Context>
class FusedKernelOperands {
 public:
  FusedKernelOperands(const GeneratorLayout& L, const VolumeShape& shape)
      : voxels_(shape.voxels()),
        features(filled<uint16_t>(voxels_ * L.feature_channels(), 0x3c)),
        gradients(filled<uint16_t>(voxels_ * mix_gradient_columns(L), 0x3c)),
        raw(filled<float>(voxels_ * 112, 0)),
        x(filled<float>(voxels_, 0x3c)),
        y(filled<float>(voxels_, 0)),
        dy(filled<float>(voxels_, 0)),
        ones(filled<float>(L.feature_channels(), 0)),
        zeros(filled<float>(L.feature_channels(), 0)),
        stats(filled<float>(3 * L.feature_channels(), 0)),
        weights(filled<float>(1 << 20, 0x3c)),
        grads(filled<float>(1 << 20, 0)),
        moments(filled<float>(1 << 21, 0)),
        packed(filled<uint32_t>(1 << 20, 0x3c)),
        copy_index(filled<int32_t>(1 << 20, 0xff)),
        copies(filled<uint16_t>(1 << 20, 0)),
        step_constants(Context::memory, 1) {
    ones.upload(std::vector<float>(size_t(L.feature_channels()), 1.f));
  }

 private:
  int64_t voxels_;

  template <class T>
  static Buffer<T> filled(int64_t count, int pattern) {
    Buffer<T> b(Context::memory, count);
    std::vector<T> host(static_cast<size_t>(count));
    std::memset(host.data(), pattern, sizeof(T) * host.size());
    b.upload(host);
    return b;
  }

 public:
  Buffer<uint16_t> features, gradients;
  Buffer<float> raw, x, y, dy, ones, zeros, stats, weights, grads, moments;
  Buffer<uint32_t> packed;
  Buffer<int32_t> copy_index;
  Buffer<uint16_t> copies;
  Buffer<AdamStep> step_constants;
};

// The rows of one b4u4 training step at `shape` (batch x patch^3), run on `ctx` over `o`.
template <class Context>
std::vector<FusedKernelRow> fused_kernel_rows(Context& ctx, const GeneratorLayout& L, const VolumeShape& shape, FusedKernelOperands<Context>& o) {
  const int64_t V = shape.voxels();
  const int F = L.feature_channels(), columns = mix_gradient_columns(L);
  const double v = double(V);
  gpu::store_adam_step(ctx, adam_step(AdamConfig{}, 1), o.step_constants.data());
  const ChannelsLast f{o.features.data(), shape, F};
  const MixGradients G{o.gradients.data(), V, columns};
  const Tensor<const float> input(o.x.data(), Shape5{shape.n, 1, shape.d, shape.h, shape.w});
  float* const mean = o.stats.data();
  float* const var = mean + F;
  float* const invstd = var + F;
  const DeferredGradient unit_gradient{o.raw.data(), 112, 0, o.zeros.data(), o.zeros.data()};
  std::vector<FusedKernelRow> rows;
  auto add = [&](const std::string& name, int per_step, double flop, double bytes, std::function<void()> run) {
    rows.push_back({name, per_step, flop, bytes, std::move(run)});
  };
  const ActivationSpec act = L.config().activation;
  add("stem forward (conv0)", 1, 2 * v * 27 * 32, v * (4 + 64), [&ctx, input, &o, f, mean, var, invstd] {
    gpu::stem_forward(ctx, input, o.weights.data(), f, 1e-5f, mean, var, invstd);
  });
  for (int width : {32, 48, 64, 80}) {
    const std::string w = std::to_string(width);
    UnitForward uf;
    uf.input = UnitInput{f.data, shape, F, 0, width, o.ones.data(), o.zeros.data(), act};
    uf.weights = o.packed.data();
    uf.output = f.data;
    uf.output_channel = width;
    const double flop = 2 * v * 27 * width * 16;
    add("unit forward, " + w + " inputs", 4, flop, v * (2 * width + 32),
        [&ctx, uf, mean, var, invstd] { gpu::unit_forward(ctx, uf, 1e-5f, mean, var, invstd); });
    UnitBackward ub;
    ub.input = uf.input;
    ub.output_channel = width;
    ub.gradient = unit_gradient;
    add("unit weight gradient, " + w + " inputs", 4, flop, v * (2 * width + 16 * (4 + 2)),
        [&ctx, ub, &o] { gpu::unit_weight_gradient(ctx, ub, o.grads.data()); });
    UnitDataGradient d;
    d.weights = o.packed.data();
    d.mean = o.zeros.data();
    d.invstd = o.ones.data();
    d.gamma_grad = o.grads.data();
    d.beta_grad = o.grads.data() + F;
    add("unit data gradient, " + w + " inputs", 4, flop, v * (16 * (4 + 2) + width * (2 + 8)),
        [&ctx, ub, d] { gpu::unit_data_gradient(ctx, ub, d); });
  }
  for (const MixLayout& m : L.compressors()) {
    const std::string k = std::to_string(m.distinct);
    add("compressor forward, " + k + " inputs", 1, 2 * v * m.distinct * 32, v * (2 * m.distinct + 64), [&ctx, f, m, &o, mean, var, invstd] {
      gpu::compressor_forward(ctx, f, m.distinct, o.packed.data(), m.output_channel, 1e-5f, mean, var, invstd);
    });
    add("compressor weight gradient, " + k + " inputs", 1, 2 * v * 32 * m.distinct, v * (64 + 2 * m.distinct),
        [&ctx, f, m, G, &o] { gpu::mix_weight_gradient(ctx, f, m.distinct, G, 0, 32, o.grads.data()); });
    add("compressor output gradient", 1, 0, v * 32 * (4 + 2 + 2), [&ctx, f, m, G, &o] {
      gpu::compressor_output_gradient(ctx, f, DeferredGradient{o.raw.data(), 112, m.output_channel, o.zeros.data(), o.zeros.data()},
                                      m.output_channel, G, 0);
    });
  }
  add("reconstruction forward", 1, 2 * v * F, v * (2 * F + 4), [&ctx, f, F, &o] { gpu::reconstruction_forward(ctx, f, F, o.weights.data(), o.y.data()); });
  add("reconstruction weight gradient", 1, 2 * v * 16 * F, v * (32 + 2 * F),
      [&ctx, f, F, G, columns, &o] { gpu::mix_weight_gradient(ctx, f, F, G, columns - kReconstructionColumns, 1, o.grads.data()); });
  add("reconstruction output gradient", 1, 0, v * (4 + 32),
      [&ctx, G, columns, &o] { gpu::reconstruction_output_gradient(ctx, o.dy.data(), G, columns - kReconstructionColumns); });
  for (size_t b = 0; b < L.units().size(); ++b) {
    const int first_column = kCompressorOutputs * int(b), k = columns - first_column, n = 96;
    add("1x1 data gradient, block " + std::to_string(b) + " (" + std::to_string(k) + " columns)", 1, 2 * v * k * n, v * (2 * k + 4 * n),
        [&ctx, G, first_column, unit_gradient, n, &o] { gpu::mix_data_gradient(ctx, G, first_column, o.packed.data(), unit_gradient, 0, n); });
  }
  add("stem weight gradient", 1, 2 * v * 32 * 27, v * (4 + 32 * (4 + 2)),
      [&ctx, input, f, unit_gradient, &o] { gpu::stem_weight_gradient(ctx, input, f, unit_gradient, o.grads.data()); });
  add("L1 loss, forward and backward", 1, 0, v * 12, [&ctx, input, mean, &o] {
    gpu::loss_forward_backward(ctx, LossKind::L1, Tensor<const float>(o.y.data(), input.shape), input, 1.f, mean,
                               Tensor<float>(o.dy.data(), input.shape), GradMode::Overwrite);
  });
  const int64_t params = L.table().padded_size();
  add("Adam with the bf16 copies", 1, 0, double(params) * 4 * 7, [&ctx, params, &o] {
    gpu::adam_with_copies(ctx, o.step_constants.data(), o.weights.data(), o.grads.data(), o.moments.data(), o.moments.data() + params, params,
                          o.copy_index.data(), o.copies.data());
  });
  return rows;
}

}  // namespace mdcsrn::bench
