#pragma once
// The register tile every fused CPU kernel's arithmetic runs in: V rows of 16 outputs (V x 2
// AVX registers of fp32 accumulators), acc[j] += sum over terms t and k < K of a_t(j, k) * b_t(k,
// 0..15), a_t(j, k) broadcast and b_t(k, .) = b[t][k * b_k ...] loaded. With V = 6 the 12
// accumulators, two loaded b vectors and one broadcast fill 15 of the 16 registers, and each k
// costs 8 loads for 12 fused multiply-adds; the terms (a convolution's taps, a weight gradient's
// rows of voxels) run inside, so the accumulators stay in registers throughout. The rows j are
// voxels (a convolution over input channels k: rows_by_stride) or input channels (a weight
// gradient over voxels k: rows_adjacent). Like simd.h, included only inside an AVX2+FMA target
// region.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu_fused/simd.h"

namespace mdcsrn::cpu_fused {
namespace {

constexpr int kTileRows = 6;

template <int V>
struct Accumulators {
  f8 v[V][2];
  void clear() {
    for (int j = 0; j < V; ++j) v[j][0] = v[j][1] = splat(0.f);
  }
};

// a_t(j, k) = a[t][j * row_stride + k]: row j's operands contiguous along k (voxels' channels).
template <int V>
inline void rows_by_stride(const float* const* a, const float* const* b, int terms, int64_t row_stride, int64_t b_k, int64_t K,
                           Accumulators<V>& acc) {
  for (int t = 0; t < terms; ++t)
    for (int64_t k = 0; k < K; ++k) {
      const f8 b0 = load8(b[t] + k * b_k), b1 = load8(b[t] + k * b_k + 8);
      for (int j = 0; j < V; ++j) {
        const f8 s = splat(a[t][j * row_stride + k]);
        acc.v[j][0] += s * b0;
        acc.v[j][1] += s * b1;
      }
    }
}

// a_t(j, k) = a[t][k * k_stride + j]: the rows' operands adjacent at each k (channels of a voxel).
template <int V>
inline void rows_adjacent(const float* const* a, const float* const* b, int terms, int64_t k_stride, int64_t b_k, int64_t K,
                          Accumulators<V>& acc) {
  for (int t = 0; t < terms; ++t)
    for (int64_t k = 0; k < K; ++k) {
      const f8 b0 = load8(b[t] + k * b_k), b1 = load8(b[t] + k * b_k + 8);
      const float* ak = a[t] + k * k_stride;
      for (int j = 0; j < V; ++j) {
        const f8 s = splat(ak[j]);
        acc.v[j][0] += s * b0;
        acc.v[j][1] += s * b1;
      }
    }
}

// The full tile spelled out in named registers: GCC kept part of an array of 12 accumulators on
// the stack and folded the two b loads into every multiply-add; written this way all 15 values
// stay in registers.
#define MDCSRN_TILE6_BEGIN                                                                                                  \
  __m256 c00 = (__m256)acc.v[0][0], c01 = (__m256)acc.v[0][1], c10 = (__m256)acc.v[1][0], c11 = (__m256)acc.v[1][1];     \
  __m256 c20 = (__m256)acc.v[2][0], c21 = (__m256)acc.v[2][1], c30 = (__m256)acc.v[3][0], c31 = (__m256)acc.v[3][1];     \
  __m256 c40 = (__m256)acc.v[4][0], c41 = (__m256)acc.v[4][1], c50 = (__m256)acc.v[5][0], c51 = (__m256)acc.v[5][1];
#define MDCSRN_TILE6_ROW(j, address) \
  s = _mm256_broadcast_ss(address);  \
  c##j##0 = _mm256_fmadd_ps(s, b0, c##j##0), c##j##1 = _mm256_fmadd_ps(s, b1, c##j##1);
#define MDCSRN_TILE6_END                                                                             \
  acc.v[0][0] = (f8)c00, acc.v[0][1] = (f8)c01, acc.v[1][0] = (f8)c10, acc.v[1][1] = (f8)c11; \
  acc.v[2][0] = (f8)c20, acc.v[2][1] = (f8)c21, acc.v[3][0] = (f8)c30, acc.v[3][1] = (f8)c31; \
  acc.v[4][0] = (f8)c40, acc.v[4][1] = (f8)c41, acc.v[5][0] = (f8)c50, acc.v[5][1] = (f8)c51;

template <>
inline void rows_by_stride<6>(const float* const* a, const float* const* b, int terms, int64_t row_stride, int64_t b_k, int64_t K,
                              Accumulators<6>& acc) {
  MDCSRN_TILE6_BEGIN
  for (int t = 0; t < terms; ++t) {
    const float *r0 = a[t], *r1 = r0 + row_stride, *r2 = r0 + 2 * row_stride, *r3 = r0 + 3 * row_stride, *r4 = r0 + 4 * row_stride,
                *r5 = r0 + 5 * row_stride, *bt = b[t];
    for (int64_t k = 0; k < K; ++k) {
      const __m256 b0 = _mm256_loadu_ps(bt + k * b_k), b1 = _mm256_loadu_ps(bt + k * b_k + 8);
      __m256 s;
      MDCSRN_TILE6_ROW(0, r0 + k)
      MDCSRN_TILE6_ROW(1, r1 + k)
      MDCSRN_TILE6_ROW(2, r2 + k)
      MDCSRN_TILE6_ROW(3, r3 + k)
      MDCSRN_TILE6_ROW(4, r4 + k)
      MDCSRN_TILE6_ROW(5, r5 + k)
    }
  }
  MDCSRN_TILE6_END
}

template <>
inline void rows_adjacent<6>(const float* const* a, const float* const* b, int terms, int64_t k_stride, int64_t b_k, int64_t K,
                             Accumulators<6>& acc) {
  MDCSRN_TILE6_BEGIN
  for (int t = 0; t < terms; ++t) {
    const float *at = a[t], *bt = b[t];
    for (int64_t k = 0; k < K; ++k) {
      const __m256 b0 = _mm256_loadu_ps(bt + k * b_k), b1 = _mm256_loadu_ps(bt + k * b_k + 8);
      const float* ak = at + k * k_stride;
      __m256 s;
      MDCSRN_TILE6_ROW(0, ak)
      MDCSRN_TILE6_ROW(1, ak + 1)
      MDCSRN_TILE6_ROW(2, ak + 2)
      MDCSRN_TILE6_ROW(3, ak + 3)
      MDCSRN_TILE6_ROW(4, ak + 4)
      MDCSRN_TILE6_ROW(5, ak + 5)
    }
  }
  MDCSRN_TILE6_END
}

#undef MDCSRN_TILE6_BEGIN
#undef MDCSRN_TILE6_ROW
#undef MDCSRN_TILE6_END

// Calls tile.template operator()<V>(first_row) over rows [0, rows) in tiles of 6, then narrower
// tiles for the rest: 6 + 2 as 4 + 4 and 6 + 1 as 4 + 3, since tiles of one or two rows have too
// few independent accumulators to keep the FMA units busy.
template <class Tile>
inline void for_row_tiles(int64_t rows, Tile&& tile) {
  int64_t j = 0;
  const int64_t rest = rows % kTileRows, full_end = rows - rest - (rows >= kTileRows && rest > 0 && rest < 3 ? kTileRows : 0);
  for (; j < full_end; j += kTileRows) tile.template operator()<kTileRows>(j);
  if (rows - j > kTileRows) {
    tile.template operator()<4>(j);
    j += 4;
  }
  switch (rows - j) {
    case 5: tile.template operator()<5>(j); break;
    case 4: tile.template operator()<4>(j); break;
    case 3: tile.template operator()<3>(j); break;
    case 2: tile.template operator()<2>(j); break;
    case 1: tile.template operator()<1>(j); break;
    default: break;
  }
}

}  // namespace
}  // namespace mdcsrn::cpu_fused
