// The fast path's unit backward kernels (kernels/fused/unit_backward.h) against a double-precision
// reference computed from the same bf16 operands, on the target of tests/kernels/target.h.
#include <cmath>

#include "kernels/fused/unit_backward.h"
#include "tests/kernels/fused_support.h"
#include "tests/kernels/target.h"

namespace mdcsrn::test {
namespace {

// A unit's saved forward state and the deferred gradient of the feature buffer, random; the
// reference's dY (as the kernels round it) and activation.
struct BackwardInputs {
  UnitCase c;
  int64_t voxels;
  std::vector<uint16_t> features;
  std::vector<float> scale, shift, mean, invstd, raw, b, coefficient_c, weights;
  std::vector<double> dy;         // [voxel][16]
  std::vector<double> activated;  // [voxel][Cin]

  BackwardInputs(const UnitCase& unit, uint64_t seed) : c(unit), voxels(unit.shape.voxels()) {
    std::mt19937_64 rng(seed);
    features = random_features(voxels, c.stride, 0, 0, rng);
    scale = random_values<float>(c.input_channels, rng, 0.3);
    shift = random_values<float>(c.input_channels, rng);
    mean = random_values<float>(c.input_channels, rng);
    invstd = random_values<float>(c.input_channels, rng, 0.5, 1.5);
    for (float& r : invstd) r = std::fabs(r);
    raw = random_values<float>(voxels * c.stride, rng);
    b = random_values<float>(c.stride, rng);
    coefficient_c = random_values<float>(c.stride, rng);
    weights = random_values<float>(int64_t(16) * c.input_channels * 27, rng, 0.0, 0.2);
    dy.resize(size_t(voxels * 16));
    for (int64_t v = 0; v < voxels; ++v)
      for (int o = 0; o < 16; ++o) {
        const size_t i = size_t(v * c.stride + c.output_channel + o);
        const double g = double(raw[i]) + double(b[size_t(c.output_channel + o)]) * bf16_value(features[i]) +
                         double(coefficient_c[size_t(c.output_channel + o)]);
        dy[size_t(v * 16 + o)] = bf16_value(float_to_bf16(float(g)));
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
  Buffer<float> scale, shift, mean, invstd, raw, b, c, weights;
  UnitBackward u;

  explicit TargetInputs(const BackwardInputs& in)
      : features(target_copy(in.features)), scale(target_copy(in.scale)), shift(target_copy(in.shift)), mean(target_copy(in.mean)),
        invstd(target_copy(in.invstd)), raw(target_copy(in.raw)), b(target_copy(in.b)), c(target_copy(in.coefficient_c)),
        weights(target_copy(in.weights)) {
    u.input = UnitInput{features.data(), in.c.shape, in.c.stride, in.c.input_channel, in.c.input_channels, scale.data(), shift.data(),
                        in.c.activation};
    u.output_channel = in.c.output_channel;
    u.gradient = DeferredGradient{raw.data(), b.data(), c.data()};
  }
};

// b4u4's unit widths with channel offsets inside wider buffers, whole tiles and volumes that are
// not multiples of the 4 x 8 x 8 tile, ELU and LeakyReLU.
const UnitCase kCases[] = {
    {{2, 8, 8, 8}, 64, 0, 32, 32, {Activation::Elu, 0.f}},
    {{1, 5, 7, 9}, 112, 8, 80, 88, {Activation::Elu, 0.f}},
    {{1, 6, 10, 12}, 128, 16, 48, 96, {Activation::LeakyRelu, 0.01f}},
};

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
        CHECK(error < 1e-5);
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
          const float z = x * in.scale[size_t(k)] + in.shift[size_t(k)];
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
      d.raw = t.raw.data();
      d.b = t.b.data();
      d.c = t.c.data();
      d.gamma_grad = gamma_grad.data();
      d.beta_grad = beta_grad.data();
      gpu::unit_data_gradient(ctx, t.u, d);
      ctx.synchronize();

      const std::vector<float> raw = t.raw.download();
      std::vector<double> got(contribution.size());
      int64_t changed_elsewhere = 0;
      for (int64_t v = 0; v < in.voxels; ++v)
        for (int k = 0; k < c.stride; ++k) {
          const size_t i = size_t(v * c.stride + k);
          if (k >= c.input_channel && k < c.input_channel + cin)
            got[size_t(v * cin + k - c.input_channel)] = double(raw[i]) - double(in.raw[i]);
          else if (raw[i] != in.raw[i])
            ++changed_elsewhere;
        }
      CHECK_MESSAGE(changed_elsewhere == 0, changed_elsewhere << " raw gradients outside the input channels changed");
      // The operands are the reference's; what is left is fp32 accumulation and the fp32 add.
      const double error = relative_error(got, contribution);
      MESSAGE("width " << cin << ": relative error of the raw gradient " << error);
      CHECK(error < 1e-5);

      const std::vector<float> dgamma = gamma_grad.download(), dbeta = beta_grad.download(), b = t.b.download(), cc = t.c.download();
      const double voxels = double(in.voxels);
      for (int k = 0; k < c.stride; ++k) {
        CAPTURE(k);
        const int unit_channel = k - c.input_channel;
        if (unit_channel < 0 || unit_channel >= cin) {
          CHECK(b[size_t(k)] == in.b[size_t(k)]);
          CHECK(cc[size_t(k)] == in.coefficient_c[size_t(k)]);
          continue;
        }
        const size_t j = size_t(unit_channel);
        const double a = in.scale[j], r = in.invstd[j], mu = in.mean[j];
        CHECK(std::fabs(dgamma[j] - sum_gx[j]) <= 1e-5 * magnitude_gx[j]);
        CHECK(std::fabs(dbeta[j] - sum_g[j]) <= 1e-5 * magnitude_g[j]);
        const double b_expected = in.b[size_t(k)] - a * r * sum_gx[j] / voxels;
        const double c_expected = in.coefficient_c[size_t(k)] - a * sum_g[j] / voxels + a * r * mu * sum_gx[j] / voxels;
        const double b_scale = std::fabs(in.b[size_t(k)]) + std::fabs(a * r) * magnitude_gx[j] / voxels;
        const double c_scale = std::fabs(in.coefficient_c[size_t(k)]) + std::fabs(a) * magnitude_g[j] / voxels +
                               std::fabs(a * r * mu) * magnitude_gx[j] / voxels;
        CHECK(std::fabs(b[size_t(k)] - b_expected) <= 1e-5 * b_scale);
        CHECK(std::fabs(cc[size_t(k)] - c_expected) <= 1e-5 * c_scale);
      }
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
