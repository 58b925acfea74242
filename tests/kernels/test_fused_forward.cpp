// The fast path's forward kernels (kernels/fused) against a double-precision reference computed
// from the same bf16 inputs and weights, on the target of tests/kernels/target.h.
#include <cmath>

#include "kernels/fused/mix.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/unit_forward.h"
#include "kernels/loss.h"
#include "tests/kernels/fused_support.h"
#include "tests/kernels/target.h"

namespace mdcsrn::test {
namespace {

// Channels [first, first + count) of `out` as [voxel][count] doubles, and the count of values
// outside them that differ from `before`.
std::vector<double> written_channels(const std::vector<uint16_t>& out, const std::vector<uint16_t>& before, int64_t voxels, int stride,
                                     int first, int count, int64_t& changed_elsewhere) {
  std::vector<double> got(size_t(voxels * count));
  changed_elsewhere = 0;
  for (int64_t v = 0; v < voxels; ++v)
    for (int k = 0; k < stride; ++k) {
      const size_t i = size_t(v * stride + k);
      if (k >= first && k < first + count)
        got[size_t(v * count + k - first)] = bf16_value(out[i]);
      else if (out[i] != before[i])
        ++changed_elsewhere;
    }
  return got;
}

// The statistics a producer reports are those of its bf16 outputs: fp32 merges of them, within
// 1e-5 (mean) and 1e-4 (variance and 1/sqrt(var + eps)) of the same moments in double.
void check_statistics(const std::vector<double>& got, int64_t voxels, int count, const Buffer<float>& mean, const Buffer<float>& var,
                      const Buffer<float>& invstd) {
  const std::vector<float> m = mean.download(), va = var.download(), is = invstd.download();
  for (int o = 0; o < count; ++o) {
    double sum = 0, squares = 0;
    for (int64_t v = 0; v < voxels; ++v) sum += got[size_t(v * count + o)];
    const double mu = sum / double(voxels);
    for (int64_t v = 0; v < voxels; ++v) squares += std::pow(got[size_t(v * count + o)] - mu, 2);
    const double variance = squares / double(voxels);
    CAPTURE(o);
    CHECK(std::fabs(m[size_t(o)] - mu) <= 1e-5 * (std::sqrt(variance) + std::fabs(mu)));
    CHECK(std::fabs(va[size_t(o)] - variance) <= 1e-4 * variance);
    CHECK(std::fabs(is[size_t(o)] - 1 / std::sqrt(variance + 1e-5)) <= 1e-4 / std::sqrt(variance + 1e-5));
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("fused_forward")) {
  TEST_CASE("the tensor-core unit convolution with its BatchNorm + activation prologue and statistics epilogue") {
    // Every unit width of b4u4 (32-80) and b4u5 (96); whole tiles and volumes that are not
    // multiples of the 4 x 8 x 8 tile; rows longer than one 16-voxel AMX tile on the CPU and not a
    // multiple of its four rows; channel offsets inside a wider buffer; ELU and LeakyReLU.
    const UnitCase cases[] = {
        {{1, 3, 6, 19}, 96, 0, 48, 64, {Activation::Elu, 0.f}},
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
      const std::vector<uint16_t> features = random_features(voxels, c.stride, c.output_channel, UnitTile::kOutputs, rng);
      std::vector<float> scale = random_values<float>(c.input_channels, rng, 0.3), shift = random_values<float>(c.input_channels, rng);
      std::vector<float> weights = random_values<float>(int64_t(16) * c.input_channels * 27, rng, 0.0, 0.2);

      // Reference: the activation rounded to bf16 as the kernel stages it, the convolution in
      // double over the bf16 weights; the kernel then rounds its fp32 sums to bf16.
      const std::vector<double> staged =
          staged_activation(features, voxels, c.stride, c.input_channel, c.input_channels, scale, shift, c.activation);
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
      u.input = UnitInput{fd.data(), c.shape, c.stride, c.input_channel, c.input_channels, sd.data(), hd.data(), c.activation};
      u.weights = packed.data();
      u.output = fd.data();
      u.output_channel = c.output_channel;
      gpu::unit_forward(ctx, u, 1e-5f, mean.data(), var.data(), invstd.data());
      ctx.synchronize();

      int64_t changed = 0;
      const std::vector<double> got = written_channels(fd.download(), features, voxels, c.stride, c.output_channel, 16, changed);
      CHECK_MESSAGE(changed == 0, changed << " values outside the output channels were written");
      // bf16 output rounding (2^-9 relative) dominates: the relative L2 error is ~1.7e-3.
      const double error = relative_error(got, expected);
      MESSAGE("width " << c.input_channels << ": relative error " << error);
      CHECK(error < 2.5e-3);
      check_statistics(got, voxels, 16, mean, var, invstd);
    }
  }

  TEST_CASE("conv0: the direct stem convolution of the input patches with its statistics epilogue") {
    for (const VolumeShape shape : {VolumeShape{2, 8, 8, 8}, VolumeShape{1, 5, 7, 9}}) {
      CAPTURE(shape.d);
      std::mt19937_64 rng(96);
      const int stride = 48;
      const int64_t voxels = shape.voxels();
      const Shape5 xs{shape.n, 1, shape.d, shape.h, shape.w};
      const std::vector<float> x = random_values<float>(voxels, rng), weights = random_values<float>(kStemOutputs * 27, rng, 0.0, 0.3);
      const std::vector<uint16_t> features = random_features(voxels, stride, 0, kStemOutputs, rng);
      std::vector<double> expected(size_t(voxels * kStemOutputs));
      for (int n = 0; n < shape.n; ++n)
        for (int z = 0; z < shape.d; ++z)
          for (int y = 0; y < shape.h; ++y)
            for (int xx = 0; xx < shape.w; ++xx)
              for (int o = 0; o < kStemOutputs; ++o) {
                double sum = 0;
                for (int k = 0; k < 27; ++k) {
                  const int zz = z + k / 9 - 1, yy = y + k / 3 % 3 - 1, xw = xx + k % 3 - 1;
                  if (zz < 0 || yy < 0 || xw < 0 || zz >= shape.d || yy >= shape.h || xw >= shape.w) continue;
                  sum += double(weights[size_t(o * 27 + k)]) * x[size_t(((int64_t(n) * shape.d + zz) * shape.h + yy) * shape.w + xw)];
                }
                expected[size_t((((int64_t(n) * shape.d + z) * shape.h + y) * shape.w + xx) * kStemOutputs + o)] = sum;
              }
      TargetContext ctx;
      Buffer<float> xd = target_copy(x), wd = target_copy(weights);
      Buffer<uint16_t> fd = target_copy(features);
      Buffer<float> mean = poisoned(kStemOutputs), var = poisoned(kStemOutputs), invstd = poisoned(kStemOutputs);
      gpu::stem_forward(ctx, Tensor<const float>(xd.data(), xs), wd.data(), ChannelsLast{fd.data(), shape, stride}, 1e-5f, mean.data(),
                        var.data(), invstd.data());
      ctx.synchronize();
      int64_t changed = 0;
      const std::vector<double> got = written_channels(fd.download(), features, voxels, stride, 0, kStemOutputs, changed);
      CHECK(changed == 0);
      const double error = relative_error(got, expected);
      CAPTURE(error);
      CHECK(error < 2.5e-3);  // bf16 output rounding
      check_statistics(got, voxels, kStemOutputs, mean, var, invstd);
    }
  }

  TEST_CASE("the 1x1 compressor GEMM and the reconstruction over the feature buffer") {
    // Input widths of b4u4's compressors (128, 224, 320) and b4u5's first (112, not a multiple of
    // the 32-channel chunk); voxel counts that are and are not multiples of the 128-voxel tile.
    struct MixCase {
      VolumeShape shape;
      int inputs, stride, output_channel;
    };
    for (const MixCase& c : {MixCase{{2, 8, 8, 8}, 128, 160, 128}, MixCase{{1, 5, 7, 9}, 112, 160, 112}, MixCase{{1, 4, 6, 8}, 224, 256, 224},
                             MixCase{{1, 3, 5, 7}, 320, 384, 320}}) {
      CAPTURE(c.inputs);
      std::mt19937_64 rng(97);
      const int64_t voxels = c.shape.voxels();
      const std::vector<uint16_t> features = random_features(voxels, c.stride, c.output_channel, kCompressorOutputs, rng);
      const std::vector<float> folded = random_values<float>(int64_t(kCompressorOutputs) * c.inputs, rng, 0.0, 0.2);
      const std::vector<float> recon = random_values<float>(c.inputs, rng, 0.0, 0.2);
      std::vector<double> expected(static_cast<size_t>(voxels * kCompressorOutputs)), expected_recon(static_cast<size_t>(voxels));
      for (int64_t v = 0; v < voxels; ++v) {
        for (int o = 0; o < kCompressorOutputs; ++o) {
          double sum = 0;
          for (int k = 0; k < c.inputs; ++k)
            sum += bf16_value(float_to_bf16(folded[size_t(o * c.inputs + k)])) * bf16_value(features[size_t(v * c.stride + k)]);
          expected[size_t(v * kCompressorOutputs + o)] = sum;
        }
        double sum = 0;
        for (int k = 0; k < c.inputs; ++k) sum += double(recon[size_t(k)]) * bf16_value(features[size_t(v * c.stride + k)]);
        expected_recon[size_t(v)] = sum;
      }
      TargetContext ctx;
      Buffer<uint16_t> fd = target_copy(features);
      Buffer<float> wd = target_copy(folded), rd = target_copy(recon), out = poisoned(voxels);
      Buffer<uint32_t> packed(kTargetMemory, packed_compressor_weight_words(c.inputs));
      Buffer<float> mean = poisoned(kCompressorOutputs), var = poisoned(kCompressorOutputs), invstd = poisoned(kCompressorOutputs);
      const ChannelsLast f{fd.data(), c.shape, c.stride};
      gpu::pack_compressor_weights(ctx, wd.data(), c.inputs, packed.data());
      gpu::reconstruction_forward(ctx, f, c.inputs, rd.data(), out.data());  // before the compressor writes its channels
      gpu::compressor_forward(ctx, f, c.inputs, packed.data(), c.output_channel, 1e-5f, mean.data(), var.data(), invstd.data());
      ctx.synchronize();
      int64_t changed = 0;
      const std::vector<double> got = written_channels(fd.download(), features, voxels, c.stride, c.output_channel, kCompressorOutputs, changed);
      CHECK(changed == 0);
      const double error = relative_error(got, expected);
      CAPTURE(error);
      CHECK(error < 2.5e-3);  // bf16 output rounding
      check_statistics(got, voxels, kCompressorOutputs, mean, var, invstd);
      CHECK(relative_error(convert<double>(out.download()), expected_recon) < 1e-5);  // fp32 sums of exact products
    }
  }

  // The CPU fused path takes its loss from the CPU backend (cpu.loss checks it).
#ifndef MDCSRN_TEST_ON_CPU_FUSED
  TEST_CASE("the L1 and L2 losses' forward and backward in one pass") {
    std::mt19937_64 rng(98);
    for (const Shape5& s : {Shape5{8, 1, 16, 16, 16}, Shape5{3, 1, 5, 7, 9}})
      for (LossKind kind : {LossKind::L1, LossKind::L2}) {
        HostTensor<float> pred = HostTensor<float>::dense(s), target = pred, dpred = pred;
        fill_random(pred, rng);
        fill_random(target, rng);
        poison(dpred);
        const HostTensor<double> pr = convert<double>(pred), tr = convert<double>(target);
        HostTensor<double> dr = convert<double>(dpred);
        const double ref = cpu::loss_forward<double>(kind, pr.in(), tr.in());
        cpu::loss_backward<double>(kind, pr.in(), tr.in(), 2.0, dr.view, GradMode::Overwrite);
        TargetContext ctx;
        TargetTensor pd(pred), td(target), dpd(dpred);
        Buffer<float> loss = poisoned(1);
        gpu::loss_forward_backward(ctx, kind, pd.in(), td.in(), 2.f, loss.data(), dpd.view, GradMode::Overwrite);
        ctx.synchronize();
        CHECK(std::fabs(loss.download()[0] - ref) < 1e-6 * ref);  // summed in double
        CHECK(relative_error(gather(dpd.download(dpred)), gather(dr)) < 1e-6);
      }
  }
#endif

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
