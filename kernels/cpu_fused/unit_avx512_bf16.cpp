// The dense unit's plane loops on bf16 pairs (see unit_avx512_bf16.h), in the tiles of
// kernels/cpu_fused/microkernel_avx512_bf16.h. The forward and the data gradient are convolution
// tiles (2 rows x 8 voxels x 16 outputs) over a plane window staged in bf16, channel pairs adjacent
// in each voxel. The weight gradient sums over voxels, so its pairs are two voxels: its window is
// staged with padded voxels 2q and 2q + 1 interleaved channel by channel, and the output gradient
// once for each of the three horizontal taps, shifted by the tap, so that every tap reads whole
// pairs; rows of its tile are input channels, and each broadcast feeds the three taps.
#include "kernels/cpu_fused/unit_avx512_bf16.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu_fused/plane_window.h"

// Everything below is compiled for AVX-512 with BF16 and runs only where cpu_isa() allows it
// (unit.cpp checks).
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#include "kernels/cpu_fused/unit_staging_avx512_bf16.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {
void forward_planes(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count;
  PaddedPlaneWindow<uint16_t> window(s.h, s.w, C);
  const int64_t rs = window.row_stride();
  std::vector<float> out(size_t(plane_voxels(s) * kOutputs));
  const uint32_t* tap_weights[27];
  for (int tap = 0; tap < 27; ++tap) tap_weights[tap] = weight_pairs + int64_t(tap) * (C / 2) * kOutputs;
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) { stage_activation_plane(in, nn, zz, origin, rs); });
    for_conv_tiles(s.h, s.w, [&]<int R, int V>(int64_t y0, int64_t x0) {
      f16 acc[R][V] = {};
      for (int kd = 0; kd < 3; ++kd) {
        const uint32_t* rows[R + 2];
        for (int i = 0; i < R + 2; ++i) rows[i] = reinterpret_cast<const uint32_t*>(window.plane(kd) + (y0 + i) * rs + x0 * C);
        conv_tile<R, V>(rows, C / 2, tap_weights[9 * kd], int64_t(C / 2) * kOutputs, C / 2, acc);
      }
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < V; ++j) {
          const f16 rounded = round_bf16(acc[r][j]);
          std::memcpy(out.data() + ((y0 + r) * s.w + x0 + j) * kOutputs, &rounded, sizeof rounded);
        }
    });
    store_output_plane(u, n, z, out.data(), moments + p * kOutputs);
  }
}

// Input channels per weight-gradient tile: 3 taps x 8 channels fill 24 of the 32 registers.
constexpr int kWeightGradientChannels = 8;

void weight_gradient_planes(const UnitBackward& u, int64_t begin, int64_t end, float* partial) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count;
  // Pairs of padded voxels (2p, 2p + 1), i.e. input voxels 2p - 1 and 2p, enough to cover the
  // padded row's w + 2 voxels.
  const int pairs = (s.w + 3) / 2;
  const int64_t row_words = int64_t(pairs) * C;
  PlaneWindowOf<uint16_t> window(2 * (s.h + 2) * row_words, 2 * row_words);
  // The output gradient at padded voxel x' read by horizontal tap kw is input voxel x' - kw:
  // [kw][y][pair][16 outputs][2].
  std::vector<uint32_t> shifted(size_t(3 * s.h * pairs * kOutputs));
  std::vector<uint16_t> gradient_row(size_t(s.w * kOutputs));
  // One row of the activated input with its zero border, padded voxels 0 .. 2 * pairs - 1.
  std::vector<uint16_t> padded_row(size_t(2 * pairs * C), 0);
  std::vector<const uint32_t*> activation_rows(size_t(s.h)), gradient_rows(size_t(3 * s.h));
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) {
      const int64_t first = first_voxel(s, nn, zz);
      for (int y = 0; y < s.h; ++y) {
        for (int x = 0; x < s.w; ++x) {
          const int64_t v = first + int64_t(y) * s.w + x;
          prefetch(in.features + (v + kAhead) * in.stride + in.channel, 2 * C);
          for (int c = 0; c < C; c += 16) store16(padded_row.data() + int64_t(x + 1) * C + c, activation16(in, v, c));
        }
        for (int q = 0; q < pairs; ++q)
          for (int c = 0; c < C; c += 16) {
            const uint16_t* left = padded_row.data() + int64_t(2 * q) * C + c;
            store_interleaved(origin + 2 * (y * row_words + int64_t(q) * C + c), load16(left), load16(left + C));
          }
      }
    });
    const int64_t first = first_voxel(s, n, z);
    for (int y = 0; y < s.h; ++y) {
      for (int x = 0; x < s.w; ++x) store16(gradient_row.data() + x * kOutputs, output_gradient16(u, first + int64_t(y) * s.w + x));
      const auto voxel = [&](int x) { return x >= 0 && x < s.w ? load16(gradient_row.data() + x * kOutputs) : zero; };
      for (int kw = 0; kw < 3; ++kw)
        for (int q = 0; q < pairs; ++q)
          store_interleaved(shifted.data() + ((int64_t(kw) * s.h + y) * pairs + q) * kOutputs, voxel(2 * q - kw), voxel(2 * q - kw + 1));
    }
    // The three horizontal taps together, each broadcast pair feeding all three; over every pair of
    // the padded row (the shifted gradients are zero beyond the ones a tap reads).
    for (int y = 0; y < s.h; ++y)
      for (int kw = 0; kw < 3; ++kw) gradient_rows[size_t(kw * s.h + y)] = shifted.data() + (int64_t(kw) * s.h + y) * pairs * kOutputs;
    for (int kd = 0; kd < 3; ++kd)
      for (int kh = 0; kh < 3; ++kh)
        for (int c0 = 0; c0 < C; c0 += kWeightGradientChannels) {
          const auto* plane = reinterpret_cast<const uint32_t*>(window.plane(kd));
          for (int y = 0; y < s.h; ++y) activation_rows[size_t(y)] = plane + (y + kh) * row_words + c0;
          f16 acc[3][kWeightGradientChannels] = {};
          dot_pairs_sets<3, kWeightGradientChannels>(activation_rows.data(), gradient_rows.data(), s.h, 1, C, kOutputs, pairs, acc);
          for (int kw = 0; kw < 3; ++kw)
            for (int j = 0; j < kWeightGradientChannels; ++j) {
              float* o = partial + ((int64_t(kd) * 9 + 3 * kh + kw) * C + c0 + j) * kOutputs;
              _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), (__m512)acc[kw][j]));
            }
        }
  }
}

void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin,
                          int64_t end, double* sums) {
  const VolumeShape& s = u.input.shape;
  const int C = u.input.count;
  PaddedPlaneWindow<uint16_t> window(s.h, s.w, kOutputs);
  const int64_t rs = window.row_stride();
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) { stage_output_gradient_plane(u, nn, zz, origin, rs); });
    const int64_t first = first_voxel(s, n, z);
    for (int cb = 0; cb < C / 16; ++cb) {
      DataGradientEpilogue<f16> epilogue(u, d, 16 * cb);
      const uint32_t* tap_weights[27];
      for (int tap = 0; tap < 27; ++tap) tap_weights[tap] = weight_pairs + (int64_t(cb) * 27 + tap) * (kOutputs / 2) * 16;
      for_conv_tiles(s.h, s.w, [&]<int R, int V>(int64_t y0, int64_t x0) {
        f16 acc[R][V] = {};
        for (int kd = 0; kd < 3; ++kd) {
          const uint32_t* rows[R + 2];
          for (int i = 0; i < R + 2; ++i) rows[i] = reinterpret_cast<const uint32_t*>(window.plane(kd) + (y0 + i) * rs + x0 * kOutputs);
          conv_tile<R, V>(rows, kOutputs / 2, tap_weights[9 * kd], (kOutputs / 2) * 16, kOutputs / 2, acc);
        }
        for (int r = 0; r < R; ++r)
          for (int j = 0; j < V; ++j) {
            const int64_t v = first + (y0 + r) * s.w + x0 + j;
            epilogue.prefetch(v + V);
            epilogue.voxel(v, &acc[r][j]);
          }
      });
      epilogue.add_sums(sums + (p * C + 16 * cb) * 2);
    }
  }
}

}  // namespace mdcsrn::cpu_fused::avx512_bf16

#pragma GCC pop_options
