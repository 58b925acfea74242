// The fast path's backward kernels (kernels/fused: the units', the 1x1 layers' and conv0's) against
// double-precision references computed from the same bf16 operands, on the target of
// tests/kernels/target.h.
#include <cmath>

#include "kernels/fused/deferred_gradient.h"
#include "kernels/fused/mix.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/unit_backward.h"
#include "tests/kernels/fused_support.h"
#include "tests/kernels/target.h"

namespace mdcsrn::test {
namespace {

// A random deferred gradient: raw gradients of channels [raw_first, raw_first + raw_stride) (as the
// fast backward keeps one block's), coefficients of all `channels`.
struct HostDeferred {
  int raw_stride, raw_first;
  std::vector<float> raw, b, c;

  HostDeferred(int64_t voxels, int channels, int first, int count, std::mt19937_64& rng)
      : raw_stride(count), raw_first(first), raw(random_values<float>(voxels * count, rng)), b(random_values<float>(channels, rng)),
        c(random_values<float>(channels, rng)) {}
  size_t at(int64_t v, int k) const { return size_t(v * raw_stride + k - raw_first); }
  bool covers(int k) const { return k >= raw_first && k < raw_first + raw_stride; }
  // The gradient of feature channel k at voxel v, in double, and the sum of its terms' magnitudes.
  double value(const std::vector<uint16_t>& features, int stride, int64_t v, int k) const {
    return double(raw[at(v, k)]) + double(b[size_t(k)]) * bf16_value(features[size_t(v * stride + k)]) + double(c[size_t(k)]);
  }
  // The same in fp32 as the kernels form it, before they round it to bf16.
  float kernel_value(const std::vector<uint16_t>& features, int stride, int64_t v, int k) const {
    return deferred_gradient_value(raw[at(v, k)], b[size_t(k)], bf16_to_float(features[size_t(v * stride + k)]), c[size_t(k)]);
  }
  double magnitude(const std::vector<uint16_t>& features, int stride, int64_t v, int k) const {
    return std::fabs(raw[at(v, k)]) + std::fabs(b[size_t(k)] * bf16_value(features[size_t(v * stride + k)])) + std::fabs(c[size_t(k)]);
  }
};

// The target's copy of a deferred gradient.
struct TargetDeferred {
  Buffer<float> raw, b, c;
  DeferredGradient g;
  explicit TargetDeferred(const HostDeferred& h) : raw(target_copy(h.raw)), b(target_copy(h.b)), c(target_copy(h.c)) {
    g = DeferredGradient{raw.data(), h.raw_stride, h.raw_first, b.data(), c.data()};
  }
};

// A unit's saved forward state and the deferred gradient of the feature buffer, random; the
// reference's dY (as the kernels round it) and activation.
struct BackwardInputs {
  UnitCase c;
  int64_t voxels;
  std::mt19937_64 rng;  // before everything drawn from it: members are initialised in this order
  std::vector<uint16_t> features;
  std::vector<float> scale, shift, mean, invstd, weights;
  // Raw gradients of the unit's channels only (input channels, the gap, outputs) and 8 beyond.
  HostDeferred deferred;
  std::vector<double> dy;         // [voxel][16]
  std::vector<double> activated;  // [voxel][Cin]

  BackwardInputs(const UnitCase& unit, uint64_t seed)
      : c(unit), voxels(unit.shape.voxels()), rng(seed), features(random_features(voxels, c.stride, 0, 0, rng)),
        deferred(voxels, c.stride, c.input_channel, c.output_channel + 16 + 8 - c.input_channel, rng) {
    scale = random_values<float>(c.input_channels, rng, 0.3);
    shift = random_values<float>(c.input_channels, rng);
    mean = random_values<float>(c.input_channels, rng);
    invstd = random_values<float>(c.input_channels, rng, 0.5, 1.5);
    for (float& r : invstd) r = std::fabs(r);
    weights = random_values<float>(int64_t(16) * c.input_channels * 27, rng, 0.0, 0.2);
    dy.resize(size_t(voxels * 16));
    for (int64_t v = 0; v < voxels; ++v)
      for (int o = 0; o < 16; ++o) {
        dy[size_t(v * 16 + o)] = bf16_value(float_to_bf16(deferred.kernel_value(features, c.stride, v, c.output_channel + o)));
      }
    activated = staged_activation(features, voxels, c.stride, c.input_channel, c.input_channels, scale, shift, c.activation);
  }
  double weight(int o, int k, int tap) const {
    return bf16_value(float_to_bf16(weights[size_t((int64_t(o) * c.input_channels + k) * 27 + tap)]));
  }
};

// The target's copies of the inputs, and the UnitBackward over them.
struct TargetInputs {
  Buffer<uint16_t> features;
  Buffer<float> scale, shift, mean, invstd, weights;
  TargetDeferred deferred;
  UnitBackward u;

  explicit TargetInputs(const BackwardInputs& in)
      : features(target_copy(in.features)), scale(target_copy(in.scale)), shift(target_copy(in.shift)), mean(target_copy(in.mean)),
        invstd(target_copy(in.invstd)), weights(target_copy(in.weights)), deferred(in.deferred) {
    u.input = UnitInput{features.data(), in.c.shape, in.c.stride, in.c.input_channel, in.c.input_channels, scale.data(), shift.data(),
                        in.c.activation};
    u.output_channel = in.c.output_channel;
    u.gradient = deferred.g;
  }
};

// b4u4's unit widths with channel offsets inside wider buffers, whole tiles and volumes that are
// not multiples of the 4 x 8 x 8 tile, rows longer than one 16-voxel AMX tile on the CPU and not
// a multiple of its four rows, a plane whose last 32 padded voxels (the CPU's AMX weight gradient
// sums 32 at a time) hold some of the volume's, ELU and LeakyReLU.
const UnitCase kCases[] = {
    {{2, 8, 8, 8}, 64, 0, 32, 32, {Activation::Elu, 0.f}},
    {{1, 5, 7, 9}, 112, 8, 80, 88, {Activation::Elu, 0.f}},
    {{1, 6, 10, 12}, 128, 16, 48, 96, {Activation::LeakyRelu, 0.01f}},
    {{1, 3, 6, 19}, 96, 0, 48, 64, {Activation::LeakyRelu, 0.01f}},
    {{1, 4, 6, 14}, 64, 16, 32, 48, {Activation::Elu, 0.f}},
};

// What fp32 accumulation inside mma.sync may leave where the operands are the reference's. The PTX
// ISA fixes neither the order nor the rounding of that accumulation, so the bound holds under each of
// the emulator's models (kernels/simt/mma_accumulation.h). Worst errors measured on these inputs
// (2026-12-04; relative errors, and for dgamma/dbeta/b/c the error over the sum of magnitudes):
// round 9.2e-8, sm90 (Hopper's truncating alignment) 4.9e-7, pessimistic 2.7e-5 (weight gradient),
// 9.9e-6 (raw gradient), 1.4e-5 (dgamma, dbeta), 1.2e-5 (b, c), 1.4e-5 (1x1 weight gradients): the
// bound is 1.8 times the worst pessimistic error and 100 times Hopper's.
constexpr double kAccumulationBound = 5e-5;

TEST_SUITE(MDCSRN_TARGET_SUITE("fused_backward")) {
  TEST_CASE("the unit's weight gradient: implicit GEMM over voxels with the activation recomputed, partials summed in block order") {
    for (const UnitCase& c : kCases)
      for (const int max_blocks : {kWeightGradientBlocks, 2}) {
        CAPTURE(c.input_channels);
        CAPTURE(max_blocks);
        const BackwardInputs in(c, uint64_t(17 + c.input_channels));
        const int cin = c.input_channels;
        std::vector<double> expected(size_t(16 * cin * 27), 0.0);
        for (int64_t v = 0; v < in.voxels; ++v)
          for (int tap = 0; tap < 27; ++tap) {
            const int64_t u = tap_neighbour(c.shape, v, tap);
            if (u < 0) continue;
            for (int o = 0; o < 16; ++o)
              for (int k = 0; k < cin; ++k)
                expected[size_t((o * cin + k) * 27 + tap)] += in.dy[size_t(v * 16 + o)] * in.activated[size_t(u * cin + k)];
          }
        TargetContext ctx;
        TargetInputs t(in);
        Buffer<float> grad = poisoned(16 * cin * 27), again = poisoned(16 * cin * 27);
        gpu::unit_weight_gradient(ctx, t.u, grad.data(), max_blocks);
        gpu::unit_weight_gradient(ctx, t.u, again.data(), max_blocks);
        ctx.synchronize();
        const std::vector<float> got = grad.download();
        // The operands are the reference's; what is left is fp32 accumulation.
        const double error = relative_error(convert<double>(got), expected);
        MESSAGE("width " << cin << ", at most " << max_blocks << " blocks: relative error " << error);
        CHECK(error < kAccumulationBound);
        CHECK_MESSAGE(got == again.download(), "two runs differ");
      }
  }

  TEST_CASE("the unit's data gradient: transposed convolution with the activation's and BatchNorm's backward in its epilogue") {
    for (const UnitCase& c : kCases) {
      CAPTURE(c.input_channels);
      const BackwardInputs in(c, uint64_t(29 + c.input_channels));
      const int cin = c.input_channels;
      std::vector<double> dactivation(size_t(in.voxels * cin), 0.0);
      for (int64_t w = 0; w < in.voxels; ++w)
        for (int tap = 0; tap < 27; ++tap) {
          const int64_t u = tap_neighbour(c.shape, w, tap);
          if (u < 0) continue;
          for (int o = 0; o < 16; ++o)
            for (int k = 0; k < cin; ++k) dactivation[size_t(u * cin + k)] += in.weight(o, k, tap) * in.dy[size_t(w * 16 + o)];
        }
      // g = act'(z) dA; the raw gradient gains a g; BatchNorm's sums of g and g xhat.
      std::vector<double> contribution(size_t(in.voxels * cin));
      std::vector<double> sum_g(size_t(cin), 0.0), sum_gx = sum_g, magnitude_g = sum_g, magnitude_gx = sum_g;
      for (int64_t v = 0; v < in.voxels; ++v)
        for (int k = 0; k < cin; ++k) {
          const float x = bf16_to_float(in.features[size_t(v * c.stride + c.input_channel + k)]);
          const float z = unit_preactivation(x, in.scale[size_t(k)], in.shift[size_t(k)]);
          const double g = activation_backward(c.activation, double(z), dactivation[size_t(v * cin + k)]);
          const double xhat = (double(x) - in.mean[size_t(k)]) * in.invstd[size_t(k)];
          contribution[size_t(v * cin + k)] = in.scale[size_t(k)] * g;
          sum_g[size_t(k)] += g, sum_gx[size_t(k)] += g * xhat;
          magnitude_g[size_t(k)] += std::fabs(g), magnitude_gx[size_t(k)] += std::fabs(g * xhat);
        }

      TargetContext ctx;
      TargetInputs t(in);
      Buffer<uint32_t> packed(kTargetMemory, packed_unit_data_gradient_words(cin));
      gpu::pack_unit_data_gradient_weights(ctx, t.weights.data(), cin, packed.data());
      Buffer<float> gamma_grad = poisoned(cin), beta_grad = poisoned(cin);
      UnitDataGradient d;
      d.weights = packed.data();
      d.mean = t.mean.data();
      d.invstd = t.invstd.data();
      d.gamma_grad = gamma_grad.data();
      d.beta_grad = beta_grad.data();
      gpu::unit_data_gradient(ctx, t.u, d);
      ctx.synchronize();

      const HostDeferred& before = in.deferred;
      const std::vector<float> raw = t.deferred.raw.download();
      std::vector<double> got(contribution.size());
      int64_t changed_elsewhere = 0;
      for (int64_t v = 0; v < in.voxels; ++v)
        for (int k = before.raw_first; k < before.raw_first + before.raw_stride; ++k) {
          const size_t i = before.at(v, k);
          if (k >= c.input_channel && k < c.input_channel + cin)
            got[size_t(v * cin + k - c.input_channel)] = double(raw[i]) - double(before.raw[i]);
          else if (raw[i] != before.raw[i])
            ++changed_elsewhere;
        }
      CHECK_MESSAGE(changed_elsewhere == 0, changed_elsewhere << " raw gradients outside the input channels changed");
      // The operands are the reference's; what is left is fp32 accumulation and the fp32 add.
      const double error = relative_error(got, contribution);
      MESSAGE("width " << cin << ": relative error of the raw gradient " << error);
      CHECK(error < kAccumulationBound);

      const std::vector<float> dgamma = gamma_grad.download(), dbeta = beta_grad.download(), b = t.deferred.b.download(),
                               cc = t.deferred.c.download();
      const double voxels = double(in.voxels);
      for (int k = 0; k < c.stride; ++k) {
        CAPTURE(k);
        const int unit_channel = k - c.input_channel;
        if (unit_channel < 0 || unit_channel >= cin) {
          CHECK(b[size_t(k)] == before.b[size_t(k)]);
          CHECK(cc[size_t(k)] == before.c[size_t(k)]);
          continue;
        }
        const size_t j = size_t(unit_channel);
        const double a = in.scale[j], r = in.invstd[j], mu = in.mean[j];
        CHECK(std::fabs(dgamma[j] - sum_gx[j]) <= kAccumulationBound * magnitude_gx[j]);
        CHECK(std::fabs(dbeta[j] - sum_g[j]) <= kAccumulationBound * magnitude_g[j]);
        const double b_expected = before.b[size_t(k)] - a * r * sum_gx[j] / voxels;
        const double c_expected = before.c[size_t(k)] - a * sum_g[j] / voxels + a * r * mu * sum_gx[j] / voxels;
        const double b_scale = std::fabs(before.b[size_t(k)]) + std::fabs(a * r) * magnitude_gx[j] / voxels;
        const double c_scale = std::fabs(before.c[size_t(k)]) + std::fabs(a) * magnitude_g[j] / voxels +
                               std::fabs(a * r * mu) * magnitude_gx[j] / voxels;
        CHECK(std::fabs(b[size_t(k)] - b_expected) <= kAccumulationBound * b_scale);
        CHECK(std::fabs(cc[size_t(k)] - c_expected) <= kAccumulationBound * c_scale);
      }
    }
  }

  TEST_CASE("the 1x1 layers' backward: output gradients side by side, weight gradients over voxels, one data-gradient GEMM") {
    // Two compressors (columns 0-31, 32-63) and the reconstruction (64-79) over a 128-channel buffer;
    // voxel counts that are and are not multiples of the 128-voxel tile.
    for (const VolumeShape shape : {VolumeShape{1, 5, 7, 9}, VolumeShape{2, 8, 8, 8}}) {
      CAPTURE(shape.voxels());
      std::mt19937_64 rng(uint64_t(41 + shape.voxels()));
      const int stride = 128, columns = 80, rec_column = 64;
      const int64_t voxels = shape.voxels();
      const std::vector<uint16_t> features = random_features(voxels, stride, 0, 0, rng);
      const HostDeferred deferred(voxels, stride, 16, 112, rng);  // raw gradients of channels [16, 128)
      const std::vector<float> dout = random_values<float>(voxels, rng);
      TargetContext ctx;
      Buffer<uint16_t> fd = target_copy(features);
      Buffer<float> doutd = target_copy(dout);
      Buffer<uint16_t> gd = target_copy(std::vector<uint16_t>(size_t(voxels * columns), kPoison));
      const ChannelsLast f{fd.data(), shape, stride};
      const MixGradients G{gd.data(), voxels, columns};
      const TargetDeferred target_deferred(deferred);
      gpu::compressor_output_gradient(ctx, f, target_deferred.g, 32, G, 0);
      gpu::compressor_output_gradient(ctx, f, target_deferred.g, 96, G, 32);
      gpu::reconstruction_output_gradient(ctx, doutd.data(), G, rec_column);
      ctx.synchronize();
      const std::vector<uint16_t> g = gd.download();
      // Each column the bf16 rounding of its value: within one bf16 ulp of the double, and the
      // fp32 rounding of its terms' sum.
      int64_t wrong = 0;
      for (int64_t v = 0; v < voxels; ++v)
        for (int k = 0; k < columns; ++k) {
          const int channel = k < 32 ? 32 + k : 96 + k - 32;
          const double expected = k < 64 ? deferred.value(features, stride, v, channel) : k == 64 ? double(dout[size_t(v)]) : 0.0;
          const double terms = k < 64 ? deferred.magnitude(features, stride, v, channel) : 0.0;
          const double got = bf16_value(g[size_t(v * columns + k)]);
          if (!(std::fabs(got - expected) <= std::ldexp(std::fabs(expected), -8) + 1e-6 * terms)) ++wrong;
        }
      CHECK_MESSAGE(wrong == 0, wrong << " gradient columns are not their values in bf16");

      // Weight gradients: a compressor's 32 outputs over 48 inputs, the reconstruction's one over 96.
      for (const int max_blocks : {kWeightGradientBlocks, 3}) {
        for (const auto& [column, outputs, inputs] : {std::tuple{32, 32, 48}, std::tuple{rec_column, 1, 96}}) {
          CAPTURE(outputs);
          CAPTURE(max_blocks);
          std::vector<double> expected(size_t(outputs * inputs), 0.0);
          for (int64_t v = 0; v < voxels; ++v)
            for (int o = 0; o < outputs; ++o)
              for (int k = 0; k < inputs; ++k)
                expected[size_t(o * inputs + k)] += bf16_value(g[size_t(v * columns + column + o)]) * bf16_value(features[size_t(v * stride + k)]);
          Buffer<float> grad = poisoned(outputs * inputs);
          gpu::mix_weight_gradient(ctx, f, inputs, G, column, outputs, grad.data(), max_blocks);
          ctx.synchronize();
          const double error = relative_error(convert<double>(grad.download()), expected);
          MESSAGE(outputs << " outputs, at most " << max_blocks << " blocks: relative error " << error);
          CHECK(error < kAccumulationBound);
        }
      }

      // The data gradient of channels [16, 48) from the second compressor and the reconstruction
      // (columns 32-79), whose folded weights span 96 channels; rows of the padding are zero.
      const int distinct = 96, first_channel = 16, channels = 32, first_column = 32;
      const std::vector<float> folded = random_values<float>(33 * distinct, rng, 0.0, 0.3);
      std::vector<int32_t> rows(size_t(columns - first_column), -1);
      for (int k = 0; k < 32; ++k) rows[size_t(k)] = k * distinct;
      rows[size_t(rec_column - first_column)] = 32 * distinct;
      HostDeferred poisoned_raw = deferred;
      for (int64_t v = 0; v < voxels; ++v)
        for (int n = 0; n < channels; ++n) poisoned_raw.raw[poisoned_raw.at(v, first_channel + n)] = NAN;
      const TargetDeferred out_deferred(poisoned_raw);
      Buffer<float> foldedd = target_copy(folded);
      Buffer<int32_t> rowsd = target_copy(rows);
      Buffer<uint32_t> packed(kTargetMemory, packed_mix_data_gradient_words(columns - first_column, channels));
      gpu::pack_mix_data_gradient_weights(ctx, foldedd.data(), rowsd.data(), columns - first_column, first_channel, channels, packed.data());
      gpu::mix_data_gradient(ctx, G, first_column, packed.data(), out_deferred.g, first_channel, channels);
      ctx.synchronize();
      const std::vector<float> out = out_deferred.raw.download();
      std::vector<double> expected(size_t(voxels * channels), 0.0), got(expected.size());
      int64_t changed_elsewhere = 0;
      for (int64_t v = 0; v < voxels; ++v) {
        for (int n = 0; n < channels; ++n) {
          double sum = 0;
          for (int k = 0; k < columns - first_column; ++k)
            if (rows[size_t(k)] >= 0)
              sum += bf16_value(g[size_t(v * columns + first_column + k)]) *
                     bf16_value(float_to_bf16(folded[size_t(rows[size_t(k)] + first_channel + n)]));
          expected[size_t(v * channels + n)] = sum;
          got[size_t(v * channels + n)] = out[deferred.at(v, first_channel + n)];
        }
        for (int k = deferred.raw_first; k < deferred.raw_first + deferred.raw_stride; ++k)
          if ((k < first_channel || k >= first_channel + channels) && out[deferred.at(v, k)] != deferred.raw[deferred.at(v, k)])
            ++changed_elsewhere;
      }
      CHECK(changed_elsewhere == 0);
      const double error = relative_error(got, expected);
      MESSAGE("data gradient: relative error " << error);
      CHECK(error < 1e-5);  // mma accumulation: round 2.6e-8, sm90 3.8e-8, pessimistic 1.3e-6
    }
  }

  TEST_CASE("the 1x1 layers' data gradient: every column and every weight row counts") {
    // Random values in all columns and rows (the case above has the reconstruction's padding
    // columns zero, so a kernel that skipped the last columns would pass it); voxel counts that are
    // and are not multiples of the tiles.
    for (const int64_t voxels : {int64_t(37), int64_t(256)}) {
      CAPTURE(voxels);
      std::mt19937_64 rng(uint64_t(53 + voxels));
      const int columns = 64, first_column = 16, channels = 32, first_channel = 16, distinct = 64;
      std::vector<uint16_t> g(size_t(voxels * columns));
      const std::vector<float> values = random_values<float>(voxels * columns, rng);
      for (size_t i = 0; i < g.size(); ++i) g[i] = float_to_bf16(values[i]);
      const std::vector<float> folded = random_values<float>((columns - first_column) * distinct, rng, 0.0, 0.3);
      std::vector<int32_t> rows(size_t(columns - first_column));
      for (int k = 0; k < columns - first_column; ++k) rows[size_t(k)] = k * distinct;
      HostDeferred poisoned(voxels, distinct, first_channel, channels, rng);
      for (float& r : poisoned.raw) r = NAN;
      TargetContext ctx;
      Buffer<uint16_t> gd = target_copy(g);
      Buffer<float> foldedd = target_copy(folded);
      Buffer<int32_t> rowsd = target_copy(rows);
      const TargetDeferred out_deferred(poisoned);
      Buffer<uint32_t> packed(kTargetMemory, packed_mix_data_gradient_words(columns - first_column, channels));
      gpu::pack_mix_data_gradient_weights(ctx, foldedd.data(), rowsd.data(), columns - first_column, first_channel, channels, packed.data());
      gpu::mix_data_gradient(ctx, MixGradients{gd.data(), voxels, columns}, first_column, packed.data(), out_deferred.g, first_channel,
                             channels);
      ctx.synchronize();
      const std::vector<float> out = out_deferred.raw.download();
      std::vector<double> expected(size_t(voxels * channels), 0.0), got(expected.size());
      for (int64_t v = 0; v < voxels; ++v)
        for (int n = 0; n < channels; ++n) {
          for (int k = 0; k < columns - first_column; ++k)
            expected[size_t(v * channels + n)] += bf16_value(g[size_t(v * columns + first_column + k)]) *
                                                  bf16_value(float_to_bf16(folded[size_t(rows[size_t(k)] + first_channel + n)]));
          got[size_t(v * channels + n)] = out[poisoned.at(v, first_channel + n)];
        }
      const double error = relative_error(got, expected);
      MESSAGE("every column: relative error " << error);
      CHECK(error < 1e-5);
    }
  }

  TEST_CASE("conv0's weight gradient from the input patches and the deferred gradient of its outputs") {
    for (const VolumeShape shape : {VolumeShape{2, 8, 8, 8}, VolumeShape{1, 5, 7, 9}})
      for (const int max_blocks : {kWeightGradientBlocks, 2}) {
        CAPTURE(shape.voxels());
        CAPTURE(max_blocks);
        std::mt19937_64 rng(uint64_t(57 + shape.voxels()));
        const int stride = 48;
        const int64_t voxels = shape.voxels();
        const std::vector<float> x = random_values<float>(voxels, rng);
        const std::vector<uint16_t> features = random_features(voxels, stride, 0, 0, rng);
        const HostDeferred deferred(voxels, stride, 0, 40, rng);  // raw gradients of channels [0, 40)
        std::vector<double> expected(size_t(kStemOutputs * 27), 0.0);
        for (int64_t v = 0; v < voxels; ++v)
          for (int tap = 0; tap < 27; ++tap) {
            const int64_t u = tap_neighbour(shape, v, tap);
            if (u < 0) continue;
            for (int o = 0; o < kStemOutputs; ++o)
              expected[size_t(o * 27 + tap)] += deferred.value(features, stride, v, o) * double(x[size_t(u)]);
          }
        TargetContext ctx;
        Buffer<float> xd = target_copy(x);
        Buffer<uint16_t> fd = target_copy(features);
        const TargetDeferred target_deferred(deferred);
        Buffer<float> grad = poisoned(kStemOutputs * 27);
        gpu::stem_weight_gradient(ctx, Tensor<const float>(xd.data(), Shape5{shape.n, 1, shape.d, shape.h, shape.w}),
                                  ChannelsLast{fd.data(), shape, stride}, target_deferred.g, grad.data(),
                                  max_blocks);
        ctx.synchronize();
        const double error = relative_error(convert<double>(grad.download()), expected);
        MESSAGE("relative error " << error);
        CHECK(error < 1e-5);  // fp32 throughout
      }
  }
}

}  // namespace
}  // namespace mdcsrn::test
