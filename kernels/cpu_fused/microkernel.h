#pragma once
// The register tile every fused CPU kernel's arithmetic runs in: V rows of 16 outputs (V x 2
// AVX registers of fp32 accumulators), acc[j] += sum over k < K of a(j, k) * b(k, 0..15), with
// a(j, k) = a[j * a_j + k * a_k] broadcast and b(k, .) = b[k * b_k ...] loaded. With V = 6 the
// 12 accumulators, two loaded b vectors and one broadcast fill 15 of the 16 registers, and each
// k costs 8 loads for 12 fused multiply-adds. The rows j are voxels (a convolution over input
// channels k) or input channels (a weight gradient over voxels k). Like simd.h, included only
// inside an AVX2+FMA target region.
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

template <int V>
inline void multiply_accumulate(const float* a, int64_t a_j, int64_t a_k, const float* b, int64_t b_k, int64_t K, Accumulators<V>& acc) {
  for (int64_t k = 0; k < K; ++k) {
    const f8 b0 = load8(b + k * b_k), b1 = load8(b + k * b_k + 8);
    const float* ak = a + k * a_k;
    for (int j = 0; j < V; ++j) {
      const f8 s = splat(ak[j * a_j]);
      acc.v[j][0] += s * b0;
      acc.v[j][1] += s * b1;
    }
  }
}

// Calls tile.template operator()<V>(first_row) over rows [0, rows) in tiles of 6, then one
// narrower tile for the rest.
template <class Tile>
inline void for_row_tiles(int64_t rows, Tile&& tile) {
  int64_t j = 0;
  for (; j + kTileRows <= rows; j += kTileRows) tile.template operator()<kTileRows>(j);
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
