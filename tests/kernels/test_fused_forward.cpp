// The fast path's forward kernels (kernels/fused) against a double-precision reference computed
// from the same bf16 inputs and weights, on the target of tests/kernels/target.h.
#include <cmath>

#include "kernels/fused/unit_forward.h"
#include "tests/kernels/target.h"

namespace mdcsrn::test {
namespace {

constexpr uint16_t kPoison = 0x7fc0;  // a bf16 quiet NaN

struct UnitCase {
  VolumeShape shape;
  int stride, input_channel, input_channels, output_channel;
  ActivationSpec activation;
};

double bf16_value(uint16_t b) { return double(bf16_to_float(b)); }

TEST_SUITE(MDCSRN_TARGET_SUITE("fused_forward")) {
  TEST_CASE("the tensor-core unit convolution with its BatchNorm + activation prologue and statistics epilogue") {
    // Every unit width of b4u4 (32-80) and b4u5 (96); whole tiles and volumes that are not
    // multiples of the 4 x 8 x 8 tile; channel offsets inside a wider buffer; ELU and LeakyReLU.
    const UnitCase cases[] = {
        {{2, 8, 8, 8}, 64, 0, 32, 32, {Activation::Elu, 0.f}},
        {{1, 6, 10, 12}, 128, 16, 48, 96, {Activation::LeakyRelu, 0.01f}},
        {{1, 8, 9, 8}, 96, 8, 64, 72, {Activation::Elu, 0.f}},
        {{1, 5, 7, 9}, 112, 8, 80, 88, {Activation::Elu, 0.f}},
        {{1, 4, 8, 8}, 128, 0, 96, 96, {Activation::LeakyRelu, 0.01f}},
    };
    for (const UnitCase& c : cases) {
      CAPTURE(c.input_channels);
      CAPTURE(c.shape.d);
      CAPTURE(c.shape.h);
      CAPTURE(c.shape.w);
      std::mt19937_64 rng(uint64_t(91 + c.input_channels));
      const int64_t voxels = c.shape.voxels();
      std::vector<uint16_t> features(size_t(voxels * c.stride));
      for (uint16_t& b : features) b = float_to_bf16(float(random_values<double>(1, rng, 0.0, 2.0)[0] + 0.3));
      for (int64_t v = 0; v < voxels; ++v)
        for (int k = 0; k < UnitTile::kOutputs; ++k) features[size_t(v * c.stride + c.output_channel + k)] = kPoison;
      std::vector<float> scale = random_values<float>(c.input_channels, rng, 0.3), shift = random_values<float>(c.input_channels, rng);
      std::vector<float> weights = random_values<float>(int64_t(16) * c.input_channels * 27, rng, 0.0, 0.2);

      // Reference: the activation rounded to bf16 as the kernel stages it, the convolution in
      // double over the bf16 weights; the kernel then rounds its fp32 sums to bf16.
      const ChannelsLast host{features.data(), c.shape, c.stride};
      std::vector<double> staged(size_t(voxels * c.input_channels));
      for (int64_t v = 0; v < voxels; ++v)
        for (int k = 0; k < c.input_channels; ++k) {
          const double z = bf16_value(host.voxel(v)[c.input_channel + k]) * scale[size_t(k)] + shift[size_t(k)];
          staged[size_t(v * c.input_channels + k)] = bf16_value(float_to_bf16(float(activation_forward(c.activation, z))));
        }
      std::vector<double> expected(size_t(voxels * 16), 0.0);
      const VolumeShape& s = c.shape;
      for (int n = 0; n < s.n; ++n)
        for (int z = 0; z < s.d; ++z)
          for (int y = 0; y < s.h; ++y)
            for (int x = 0; x < s.w; ++x) {
              const int64_t v = ((int64_t(n) * s.d + z) * s.h + y) * s.w + x;
              for (int o = 0; o < 16; ++o) {
                double sum = 0;
                for (int kd = 0; kd < 3; ++kd)
                  for (int kh = 0; kh < 3; ++kh)
                    for (int kw = 0; kw < 3; ++kw) {
                      const int zz = z + kd - 1, yy = y + kh - 1, xx = x + kw - 1;
                      if (zz < 0 || yy < 0 || xx < 0 || zz >= s.d || yy >= s.h || xx >= s.w) continue;
                      const int64_t u = ((int64_t(n) * s.d + zz) * s.h + yy) * s.w + xx;
                      for (int k = 0; k < c.input_channels; ++k)
                        sum += staged[size_t(u * c.input_channels + k)] *
                               bf16_value(float_to_bf16(weights[size_t((int64_t(o) * c.input_channels + k) * 27 + (kd * 3 + kh) * 3 + kw)]));
                    }
                expected[size_t(v * 16 + o)] = sum;
              }
            }

      TargetContext ctx;
      Buffer<uint16_t> fd = target_copy(features);
      Buffer<uint32_t> packed(kTargetMemory, packed_unit_weight_words(c.input_channels));
      Buffer<float> wd = target_copy(weights), sd = target_copy(scale), hd = target_copy(shift);
      Buffer<float> mean = poisoned(16), var = poisoned(16), invstd = poisoned(16);
      gpu::pack_unit_weights(ctx, wd.data(), c.input_channels, packed.data());
      UnitForward u;
      u.features = fd.data();
      u.shape = c.shape;
      u.stride = c.stride;
      u.input_channel = c.input_channel;
      u.input_channels = c.input_channels;
      u.scale = sd.data();
      u.shift = hd.data();
      u.activation = c.activation;
      u.weights = packed.data();
      u.output = fd.data();
      u.output_channel = c.output_channel;
      gpu::unit_forward(ctx, u, 1e-5f, mean.data(), var.data(), invstd.data());
      ctx.synchronize();

      const std::vector<uint16_t> out = fd.download();
      std::vector<double> got(expected.size()), want(expected.size());
      int64_t changed = 0;
      for (int64_t v = 0; v < voxels; ++v)
        for (int k = 0; k < c.stride; ++k) {
          const size_t i = size_t(v * c.stride + k);
          const int o = k - c.output_channel;
          if (o >= 0 && o < 16) {
            got[size_t(v * 16 + o)] = bf16_value(out[i]);
          } else if (out[i] != features[i]) {
            ++changed;
          }
        }
      CHECK_MESSAGE(changed == 0, changed << " values outside the output channels were written");
      // bf16 output rounding (2^-9 relative) dominates: the relative L2 error is ~1e-3.
      const double error = relative_error(got, expected);
      MESSAGE("width " << c.input_channels << ": relative error " << error);
      CHECK(error < 2.5e-3);

      // The statistics are those of the bf16 outputs: fp32 merges of them, within 1e-5 (mean) and
      // 1e-4 (variance) of the same moments in double.
      const std::vector<float> m = mean.download(), va = var.download(), is = invstd.download();
      for (int o = 0; o < 16; ++o) {
        double sum = 0, squares = 0;
        for (int64_t v = 0; v < voxels; ++v) sum += got[size_t(v * 16 + o)];
        const double mu = sum / double(voxels);
        for (int64_t v = 0; v < voxels; ++v) squares += std::pow(got[size_t(v * 16 + o)] - mu, 2);
        const double variance = squares / double(voxels);
        CHECK(std::fabs(m[size_t(o)] - mu) <= 1e-5 * (std::sqrt(variance) + std::fabs(mu)));
        CHECK(std::fabs(va[size_t(o)] - variance) <= 1e-4 * variance);
        CHECK(std::fabs(is[size_t(o)] - 1 / std::sqrt(variance + 1e-5)) <= 1e-4 / std::sqrt(variance + 1e-5));
      }
    }
  }

  TEST_CASE("BatchNorm folds into a scale and shift per channel") {
    std::mt19937_64 rng(95);
    const int64_t channels = 80;
    const std::vector<float> gamma = random_values<float>(channels, rng), beta = random_values<float>(channels, rng),
                             mean = random_values<float>(channels, rng), invstd = random_values<float>(channels, rng, 0.1);
    TargetContext ctx;
    Buffer<float> g = target_copy(gamma), b = target_copy(beta), m = target_copy(mean), r = target_copy(invstd);
    Buffer<float> scale = poisoned(channels), shift = poisoned(channels);
    gpu::fold_batchnorm(ctx, g.data(), b.data(), m.data(), r.data(), channels, scale.data(), shift.data());
    ctx.synchronize();
    const std::vector<float> sc = scale.download(), sh = shift.download();
    for (size_t c = 0; c < size_t(channels); ++c) {
      // x * scale + shift against (x - mean) * invstd * gamma + beta at x = 1.5: fp32 rounding apart.
      const double folded = 1.5 * sc[c] + sh[c], direct = (1.5 - mean[c]) * double(invstd[c]) * gamma[c] + beta[c];
      CHECK(std::fabs(folded - direct) <= 1e-5 * (1 + std::fabs(direct)));
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
