#pragma once
// The register tile of the fused CPU kernels on AVX512-BF16: V rows x 16 fp32 outputs in V
// AVX-512 accumulators. Each step k of the reduction loads the 16 outputs' bf16 pairs once and,
// per row, broadcasts the row's 32-bit pair (two consecutive values of the reduction's index) into
// one VDPBF16PS: acc[j] += a(j, 2k) b(2k, .) + a(j, 2k + 1) b(2k + 1, .). Rows are voxels (a
// convolution over channel pairs, read straight from an NDHWC bf16 buffer) or channels (a weight
// gradient over voxel pairs, staged interleaved). Like simd.h, included only inside a kernel
// file's AVX-512 target region (see kernels/cpu_fused/unit_avx512_bf16.cpp).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu_fused/simd.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {
namespace {

constexpr int kTileRows = 16;

// acc[j] += sum over terms t and k < K of the pair a[t][j * row_step + k * k_step] dotted with
// the 16 outputs' pairs b[t][k * b_step .. k * b_step + 15] (32-bit words). The accumulators are
// f16, not __m512, which may alias anything: the compiler would keep an array of them in memory
// across every load of an operand.
template <int V>
inline void dot_pairs(const uint32_t* const* a, const uint32_t* const* b, int terms, int64_t row_step, int64_t k_step, int64_t b_step,
                      int64_t K, f16 (&acc)[V]) {
  f16 r[V];
  for (int j = 0; j < V; ++j) r[j] = acc[j];
  for (int t = 0; t < terms; ++t) {
    const uint32_t *at = a[t], *bt = b[t];
    for (int64_t k = 0; k < K; ++k) {
      const __m512bh w = (__m512bh)_mm512_loadu_si512(bt + k * b_step);
      const uint32_t* ak = at + k * k_step;
#pragma GCC unroll 16
      for (int j = 0; j < V; ++j) r[j] = (f16)_mm512_dpbf16_ps((__m512)r[j], (__m512bh)_mm512_set1_epi32(int(ak[j * row_step])), w);
    }
  }
  for (int j = 0; j < V; ++j) acc[j] = r[j];
}

// As dot_pairs against N sets of 16 outputs at once, acc[n][j] with set n's pairs at b[n * terms +
// t]: each broadcast feeds N multiply-adds (N = 3: a weight gradient's three horizontal taps).
template <int N, int V>
inline void dot_pairs_sets(const uint32_t* const* a, const uint32_t* const* b, int terms, int64_t row_step, int64_t k_step,
                           int64_t b_step, int64_t K, f16 (&acc)[N][V]) {
  f16 r[N][V];
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < V; ++j) r[n][j] = acc[n][j];
  for (int t = 0; t < terms; ++t) {
    const uint32_t* at = a[t];
    for (int64_t k = 0; k < K; ++k) {
      f16 w[N];  // the pairs' bits, in a type the compiler keeps in registers
      for (int n = 0; n < N; ++n) w[n] = (f16)_mm512_loadu_si512(b[n * terms + t] + k * b_step);
      const uint32_t* ak = at + k * k_step;
#pragma GCC unroll 16
      for (int j = 0; j < V; ++j) {
        const __m512bh x = (__m512bh)_mm512_set1_epi32(int(ak[j * row_step]));
#pragma GCC unroll 4
        for (int n = 0; n < N; ++n) r[n][j] = (f16)_mm512_dpbf16_ps((__m512)r[n][j], x, (__m512bh)w[n]);
      }
    }
  }
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < V; ++j) acc[n][j] = r[n][j];
}

// A 3x3x3 convolution's output tile, one input plane's part: R output rows (R <= 2) x V voxels x
// 16 outputs, acc[r][j] += sum over the plane's 9 taps (kh, kw) and channel pairs k < K of
// input(row r + kh, voxel j + kw; pair k) . weights(kh, kw; pair k). Each broadcast input pair
// feeds every tap that reads it (up to 2 rows x 3 taps) while the 9 taps' weights stay in
// registers: 9 + (R + 2)(V + 2) loads for 9 R V multiply-adds, where dot_pairs loads one operand
// for each. rows[i]: the tile's input row i (of R + 2) at its first voxel, voxel_step words a
// voxel; tap (kh, kw)'s pairs at w + (3 kh + kw) * tap_step + 16 k.
template <int R, int V>
inline void conv_tile(const uint32_t* const* rows, int64_t voxel_step, const uint32_t* w, int64_t tap_step, int64_t K, f16 (&acc)[R][V]) {
  f16 r[R][V];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j) r[i][j] = acc[i][j];
  for (int64_t k = 0; k < K; ++k) {
    f16 taps[9];  // the pairs' bits, in a type the compiler keeps in registers (see dot_pairs)
    for (int t = 0; t < 9; ++t) taps[t] = (f16)_mm512_loadu_si512(w + t * tap_step + 16 * k);
#pragma GCC unroll 4
    for (int i = 0; i < R + 2; ++i) {
      const uint32_t* row = rows[i] + k;
#pragma GCC unroll 16
      for (int xi = 0; xi < V + 2; ++xi) {
        const __m512bh x = (__m512bh)_mm512_set1_epi32(int(row[xi * voxel_step]));
#pragma GCC unroll 2
        for (int ro = 0; ro < R; ++ro) {
          const int kh = i - ro;
          if (kh < 0 || kh > 2) continue;
#pragma GCC unroll 3
          for (int kw = 0; kw < 3; ++kw) {
            const int j = xi - kw;
            if (j >= 0 && j < V) r[ro][j] = (f16)_mm512_dpbf16_ps((__m512)r[ro][j], x, (__m512bh)taps[3 * kh + kw]);
          }
        }
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j) acc[i][j] = r[i][j];
}

constexpr int kConvRows = 2, kConvVoxels = 8;

template <int R, int V, class Tile>
inline void remainder_conv_tile(int64_t voxels, int64_t y0, int64_t x0, Tile& tile) {
  if constexpr (V > 0) {
    if (voxels == V)
      tile.template operator()<R, V>(y0, x0);
    else
      remainder_conv_tile<R, V - 1>(voxels, y0, x0, tile);
  }
}

template <int R, class Tile>
inline void conv_row_tiles(int64_t width, int64_t y0, Tile& tile) {
  int64_t x0 = 0;
  for (; x0 + kConvVoxels <= width; x0 += kConvVoxels) tile.template operator()<R, kConvVoxels>(y0, x0);
  remainder_conv_tile<R, kConvVoxels - 1>(width - x0, y0, x0, tile);
}

// tile.template operator()<R, V>(y0, x0) over a height x width plane: tiles of 2 rows x 8 voxels,
// then narrower and lower ones at the edges.
template <class Tile>
inline void for_conv_tiles(int64_t height, int64_t width, Tile&& tile) {
  int64_t y0 = 0;
  for (; y0 + kConvRows <= height; y0 += kConvRows) conv_row_tiles<kConvRows>(width, y0, tile);
  if (y0 < height) conv_row_tiles<1>(width, y0, tile);
}

template <int V>
inline void clear(f16 (&acc)[V]) {
  for (int j = 0; j < V; ++j) acc[j] = f16{};
}

template <int V, class Tile>
inline void remainder_tile(int64_t rows, int64_t first, Tile& tile) {
  if constexpr (V > 0) {
    if (rows == V)
      tile.template operator()<V>(first);
    else
      remainder_tile<V - 1>(rows, first, tile);
  }
}

// tile.template operator()<V>(first_row) over rows [0, rows): tiles of 16, then one of the rest.
template <class Tile>
inline void for_row_tiles(int64_t rows, Tile&& tile) {
  int64_t j = 0;
  for (; j + kTileRows <= rows; j += kTileRows) tile.template operator()<kTileRows>(j);
  remainder_tile<kTileRows - 1>(rows - j, j, tile);
}

inline void store16(uint16_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
inline __m256i load16(const uint16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Sixteen values of a and of b as 16 pairs (a[c], b[c]) at dst.
inline void store_interleaved(void* dst, __m256i a, __m256i b) {
  const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
  auto* out = static_cast<__m256i*>(dst);
  _mm256_storeu_si256(out, _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
}

}  // namespace
}  // namespace mdcsrn::cpu_fused::avx512_bf16
