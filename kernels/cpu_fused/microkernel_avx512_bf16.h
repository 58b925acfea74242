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
