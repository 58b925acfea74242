// The dense unit's forward and backward (kernels/fused/unit_forward.h, unit_backward.h) on the CPU,
// plane by plane: a unit's activated input act(x * scale + shift), rounded to bf16 as the GPU
// stages it, is staged once per input plane in a rolling window (kernels/cpu_fused/plane_window.h);
// every output row is then register tiles of 6 voxels x 16 channels over 27 taps x Cin
// (kernels/cpu_fused/microkernel.h). The weight gradient runs the same tile over voxels with 6
// input channels as rows; the data gradient is the forward's tile over the deferred output
// gradient's window with the flipped weights, and its epilogue the GPU kernel's. Where the CPU has
// AVX512-BF16 (within MDCSRN_MAX_CPU_ISA), the same loops run on bf16 pairs instead
// (kernels/cpu_fused/unit_avx512_bf16.h), and where it has AMX on tiles (kernels/cpu_fused/unit_amx.h).
#include <vector>

#include "engine/cpu_isa.h"
#include "engine/parallel.h"
#include "kernels/cpu_fused/bf16_pairs.h"
#include "kernels/cpu_fused/kernels.h"
#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/cpu_fused/plane_window.h"
#include "kernels/cpu_fused/unit_amx.h"
#include "kernels/cpu_fused/unit_avx512_bf16.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"

// Everything below is compiled for AVX2+FMA (the headers above are not) and runs only where
// cpu_fused_unsupported() is "": FastGenerator<CpuFusedContext> and the tests check it first.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "kernels/cpu_fused/microkernel.h"
#include "kernels/cpu_fused/unit_planes.h"

namespace mdcsrn {
namespace cpu_fused {
namespace {

// Plane z of sample n of the unit's input, activated and rounded to bf16, at origin.
inline void stage_activation(const UnitInput& in, int n, int z, float* origin, int64_t row_stride) {
  const VolumeShape& s = in.shape;
  const int64_t first = first_voxel(s, n, z);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const uint16_t* src = in.features + (first + int64_t(y) * s.w + x) * in.stride + in.channel;
      float* dst = origin + y * row_stride + int64_t(x) * in.count;
      for (int c = 0; c < in.count; c += 8) {
        const f8 z8 = load_bf16x8(src + c) * load8(in.scale + c) + load8(in.shift + c);
        store8(dst + c, round_bf16(lanes_activation_forward(in.activation, z8)));
      }
    }
}

// The gradient of the unit's 16 outputs at plane z of sample n, raw + b * y + c rounded to bf16.
inline void stage_output_gradient(const UnitBackward& u, int n, int z, float* origin, int64_t row_stride) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const DeferredGradient& g = u.gradient;
  const int64_t first = first_voxel(s, n, z);
  const f8 b0 = load8(g.b + u.output_channel), b1 = load8(g.b + u.output_channel + 8);
  const f8 c0 = load8(g.c + u.output_channel), c1 = load8(g.c + u.output_channel + 8);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const int64_t v = first + int64_t(y) * s.w + x;
      const uint16_t* features = in.features + v * in.stride + u.output_channel;
      const float* raw = g.raw_at(v, u.output_channel);
      float* dst = origin + y * row_stride + int64_t(x) * kOutputs;
      const f8 t0 = b0 * load_bf16x8(features) + load8(raw), t1 = b1 * load_bf16x8(features + 8) + load8(raw + 8);
      store8(dst, round_bf16(t0 + c0));
      store8(dst + 8, round_bf16(t1 + c1));
    }
}

void forward_planes(const UnitForward& u, const float* weights, int64_t begin, int64_t end, PlaneMoments* moments) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count;
  PlaneWindow window(s.h, s.w, C);
  const int64_t rs = window.row_stride();
  std::vector<float> out(size_t(plane_voxels(s) * kOutputs));
  const float* tap_weights[27];
  for (int tap = 0; tap < 27; ++tap) tap_weights[tap] = weights + int64_t(tap) * C * kOutputs;
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, float* origin) { stage_activation(in, nn, zz, origin, rs); });
    for (int y = 0; y < s.h; ++y)
      for_row_tiles(s.w, [&]<int V>(int64_t x0) {
        const float* a[27];
        for (int tap = 0; tap < 27; ++tap) a[tap] = window.plane(tap / 9) + (y + tap / 3 % 3) * rs + (x0 + tap % 3) * C;
        Accumulators<V> acc;
        acc.clear();
        rows_by_stride<V>(a, tap_weights, 27, C, kOutputs, C, acc);
        for (int j = 0; j < V; ++j) {
          float* o = out.data() + (int64_t(y) * s.w + x0 + j) * kOutputs;
          store8(o, round_bf16(acc.v[j][0]));
          store8(o + 8, round_bf16(acc.v[j][1]));
        }
      });
    store_output_plane(u, n, z, out.data(), moments + p * kOutputs);
  }
}

// Adds block `planes`' weight gradient to partial[27][Cin][16].
void weight_gradient_planes(const UnitBackward& u, int64_t begin, int64_t end, float* partial) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count;
  PlaneWindow window(s.h, s.w, C);
  const int64_t rs = window.row_stride();
  std::vector<float> gradient(size_t((s.h + 2) * int64_t(s.w + 2) * kOutputs));
  const int64_t grs = int64_t(s.w + 2) * kOutputs;
  float* dy = gradient.data() + grs + kOutputs;  // interior origin; the border is never read
  std::vector<const float*> activation_rows(size_t(s.h)), gradient_rows(size_t(s.h));
  for (int y = 0; y < s.h; ++y) gradient_rows[size_t(y)] = dy + y * grs;
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, float* origin) { stage_activation(in, nn, zz, origin, rs); });
    stage_output_gradient(u, n, z, dy, grs);
    for (int tap = 0; tap < 27; ++tap) {
      const int kd = tap / 9, kh = tap / 3 % 3, kw = tap % 3;
      for_row_tiles(C, [&]<int V>(int64_t c0) {
        for (int y = 0; y < s.h; ++y) activation_rows[size_t(y)] = window.plane(kd) + (y + kh) * rs + kw * C + c0;
        Accumulators<V> acc;
        acc.clear();
        rows_adjacent<V>(activation_rows.data(), gradient_rows.data(), s.h, C, kOutputs, s.w, acc);
        for (int j = 0; j < V; ++j) {
          float* o = partial + (int64_t(tap) * C + c0 + j) * kOutputs;
          store8(o, load8(o) + acc.v[j][0]);
          store8(o + 8, load8(o + 8) + acc.v[j][1]);
        }
      });
    }
  }
}

// Per plane, sums[p][c][2] = (sum g, sum g * xhat) over the plane's voxels.
void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const float* weights, int64_t begin, int64_t end,
                                      double* sums) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count;
  PlaneWindow window(s.h, s.w, kOutputs);
  const int64_t rs = window.row_stride();
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, float* origin) { stage_output_gradient(u, nn, zz, origin, rs); });
    const int64_t first = first_voxel(s, n, z);
    for (int cb = 0; cb < C / 16; ++cb) {
      DataGradientEpilogue<f8> epilogue(u, d, 16 * cb);
      const float* tap_weights[27];
      for (int tap = 0; tap < 27; ++tap) tap_weights[tap] = weights + (int64_t(cb) * 27 + tap) * kOutputs * 16;
      for (int y = 0; y < s.h; ++y)
        for_row_tiles(s.w, [&]<int V>(int64_t x0) {
          const float* a[27];
          for (int tap = 0; tap < 27; ++tap) a[tap] = window.plane(tap / 9) + (y + tap / 3 % 3) * rs + (x0 + tap % 3) * kOutputs;
          Accumulators<V> acc;
          acc.clear();
          rows_by_stride<V>(a, tap_weights, 27, kOutputs, 16, kOutputs, acc);
          for (int j = 0; j < V; ++j) epilogue.voxel(first + int64_t(y) * s.w + x0 + j, acc.v[j]);
        });
      epilogue.add_sums(sums + (p * C + 16 * cb) * 2);
    }
  }
}

// The packed forward weights (kernels/fused/unit_forward.h's layout, which Adam's bf16 copies
// write) as fp32 [27 taps][Cin][16 outputs].
std::vector<float> unpack_unit_weights(const uint32_t* packed, int input_channels) {
  const auto* elements = reinterpret_cast<const uint16_t*>(packed);
  std::vector<float> w(size_t(27 * input_channels * kOutputs));
  for (int tap = 0; tap < 27; ++tap)
    for (int c = 0; c < input_channels; ++c)
      for (int o = 0; o < kOutputs; ++o)
        w[size_t((tap * input_channels + c) * kOutputs + o)] = bf16_to_float(elements[packed_unit_weight_element(input_channels, o, c, tap)]);
  return w;
}

}  // namespace
}  // namespace cpu_fused

namespace gpu {

using namespace cpu_fused;

template <>
void pack_unit_weights(CpuFusedContext&, const float* weights, int input_channels, uint32_t* packed) {
  MDCSRN_ASSERT(input_channels % 16 == 0, "pack_unit_weights: " + std::to_string(input_channels) + " input channels");
  auto* elements = reinterpret_cast<uint16_t*>(packed);
  for (int o = 0; o < kOutputs; ++o)
    for (int c = 0; c < input_channels; ++c)
      for (int tap = 0; tap < 27; ++tap)
        elements[packed_unit_weight_element(input_channels, o, c, tap)] = float_to_bf16(weights[(int64_t(o) * input_channels + c) * 27 + tap]);
}

template <>
void fold_batchnorm(CpuFusedContext&, const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels,
                    float* scale, float* shift) {
  for (int64_t c = 0; c < channels; ++c) {
    scale[c] = gamma[c] * invstd[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
}

template <>
void unit_forward(CpuFusedContext&, const UnitForward& u, float eps, float* mean, float* var, float* invstd, const Collectives* ranks) {
  check_unit_launch("unit_forward", u.input, u.output == u.input.features, u.output_channel);
  const std::vector<float> weights = unpack_unit_weights(u.weights, u.input.count);
  const int64_t planes = int64_t(u.input.shape.n) * u.input.shape.d;
  std::vector<PlaneMoments> moments(size_t(planes * kOutputs));
  if (cpu_isa() >= CpuIsa::Avx512Bf16) {
    const std::vector<uint32_t> pairs = row_pairs(weights.data(), int64_t(27) * u.input.count, kOutputs);
    const auto planes_on = cpu_isa() >= CpuIsa::AmxBf16 ? amx::forward_planes : avx512_bf16::forward_planes;
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) { planes_on(u, pairs.data(), begin, end, moments.data()); });
  } else {
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) { forward_planes(u, weights.data(), begin, end, moments.data()); });
  }
  finish_statistics(moments, planes, kOutputs, eps, mean, var, invstd, ranks);
}

// This path's own layout (only unit_data_gradient reads it): bf16 [Cin / 16][27 flipped taps][16
// outputs][16 input channels], tap t holding the weights of tap 26 - t.
template <>
void pack_unit_data_gradient_weights(CpuFusedContext&, const float* weights, int input_channels, uint32_t* packed) {
  MDCSRN_ASSERT(input_channels % 16 == 0, "pack_unit_data_gradient_weights: " + std::to_string(input_channels) + " input channels");
  auto* elements = reinterpret_cast<uint16_t*>(packed);
  for (int cb = 0; cb < input_channels / 16; ++cb)
    for (int t = 0; t < 27; ++t)
      for (int o = 0; o < kOutputs; ++o)
        for (int k = 0; k < 16; ++k)
          elements[((int64_t(cb) * 27 + t) * kOutputs + o) * 16 + k] =
              float_to_bf16(weights[(int64_t(o) * input_channels + 16 * cb + k) * 27 + 26 - t]);
}

template <>
void unit_weight_gradient(CpuFusedContext&, const UnitBackward& u, float* weight_grad, int) {
  check_unit_launch("unit_weight_gradient", u.input, true, u.output_channel);
  MDCSRN_ASSERT(u.gradient.covers(u.output_channel, 16), "unit_weight_gradient: the raw gradients do not cover the outputs");
  const int C = u.input.count;
  const int64_t planes = int64_t(u.input.shape.n) * u.input.shape.d, blocks = std::min(planes, kWeightGradientPlaneBlocks);
  const int64_t weights = int64_t(27) * C * kOutputs;
  std::vector<float> partials(size_t(blocks * weights), 0.f);
  const bool bf16_pairs = cpu_isa() >= CpuIsa::Avx512Bf16, amx_tiles = cpu_isa() >= CpuIsa::AmxBf16;
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = planes * b / blocks, last = planes * (b + 1) / blocks;
      if (amx_tiles)
        amx::weight_gradient_planes(u, first, last, partials.data() + b * weights);
      else if (bf16_pairs)
        avx512_bf16::weight_gradient_planes(u, first, last, partials.data() + b * weights);
      else
        weight_gradient_planes(u, first, last, partials.data() + b * weights);
    }
  });
  const std::vector<float> total = sum_blocks_in_order(partials, blocks, weights);
  for (int o = 0; o < kOutputs; ++o)
    for (int c = 0; c < C; ++c)
      for (int tap = 0; tap < 27; ++tap) weight_grad[(int64_t(o) * C + c) * 27 + tap] = total[size_t((int64_t(tap) * C + c) * kOutputs + o)];
}

template <>
void unit_data_gradient(CpuFusedContext&, const UnitBackward& u, const UnitDataGradient& d, const Collectives* ranks) {
  check_unit_launch("unit_data_gradient", u.input, true, u.output_channel);
  MDCSRN_ASSERT(u.gradient.covers(u.output_channel, 16) && u.gradient.covers(u.input.channel, u.input.count),
                "unit_data_gradient: the raw gradients do not cover the unit's channels");
  const int C = u.input.count;
  const auto* packed = reinterpret_cast<const uint16_t*>(d.weights);
  const int64_t planes = int64_t(u.input.shape.n) * u.input.shape.d;
  std::vector<double> sums(size_t(planes * C * 2), 0.0);
  if (cpu_isa() >= CpuIsa::Avx512Bf16) {
    const std::vector<uint32_t> pairs = row_pairs(packed, int64_t(C / 16) * 27 * kOutputs, 16);
    const auto planes_on = cpu_isa() >= CpuIsa::AmxBf16 ? amx::data_gradient_planes : avx512_bf16::data_gradient_planes;
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) { planes_on(u, d, pairs.data(), begin, end, sums.data()); });
  } else {
    std::vector<float> weights(size_t(27 * C * kOutputs));
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = bf16_to_float(packed[i]);
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) { data_gradient_planes(u, d, weights.data(), begin, end, sums.data()); });
  }
  std::vector<double> own;
  const std::vector<double> total = merge_plane_sums(sums, planes, C, ranks, own);
  const double voxels = double(u.input.shape.voxels() * (ranks ? ranks->size() : 1));
  const DeferredGradient& g = u.gradient;
  for (int c = 0; c < C; ++c) {
    const float a = u.input.scale[c], mean_g = float(total[size_t(2 * c)] / voxels), mean_g_xhat = float(total[size_t(2 * c + 1)] / voxels);
    d.gamma_grad[c] = float(own[size_t(2 * c + 1)]);
    d.beta_grad[c] = float(own[size_t(2 * c)]);
    const int32_t channel = u.input.channel + c;
    g.b[channel] += -a * d.invstd[c] * mean_g_xhat;
    g.c[channel] += -a * mean_g + a * d.invstd[c] * d.mean[c] * mean_g_xhat;
  }
}

}  // namespace gpu
}  // namespace mdcsrn

#pragma GCC pop_options
