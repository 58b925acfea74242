// The dense unit's convolutions on AMX tiles (see unit_amx.h). The forward and the data gradient
// read their A tiles straight from a plane window staged in bf16 (kernels/cpu_fused/plane_window.h): sixteen
// consecutive voxels of a row are sixteen tile rows one voxel's bytes apart. The forward's A tile
// is 32 input channels of each voxel against a B tile of those channels' 16 pairs for one tap (the
// AVX512-BF16 path's weight pairs); a 16-channel remainder uses the half-width tiles. The data
// gradient's window has 16 output-gradient channels a voxel, so 64 bytes from voxel x are voxels x
// and x + 1: one A tile covers two horizontal taps, whose flipped weights are adjacent in the
// pairs, and the third tap takes the half-width tiles. Rows are padded to a multiple of 16 voxels
// with zeros; the outputs beyond the row are computed and dropped. The weight gradient's tiles are
// described above it.
#include "kernels/cpu_fused/unit_amx.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "engine/cpu_isa.h"
#include "kernels/cpu_fused/amx_tiles.h"
#include "kernels/cpu_fused/plane_window.h"

// Compiled for AVX-512 with BF16 (the staging and epilogues); the tile instructions are inline
// assembly in amx_tiles.h. Runs only where cpu_isa() is CpuIsa::AmxBf16 (unit.cpp checks).
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#include "kernels/cpu_fused/unit_staging_avx512_bf16.h"

namespace mdcsrn::cpu_fused::amx {
namespace {

using avx512_bf16::load16;
using avx512_bf16::output_gradient16;
using avx512_bf16::stage_activation_plane;
using avx512_bf16::stage_output_gradient_plane;
using avx512_bf16::store16;
using avx512_bf16::store_interleaved;

constexpr int kTileVoxels = 16;  // a tile's rows
constexpr int kRowsPerStep = 4;  // output tiles tmm0-3: four rows of the plane share each B tile
constexpr int kA = 4, kAHalf = 5, kB = 6, kBHalf = 7;
constexpr int64_t kPairBytes = 4 * kOutputs;  // one row of a B tile: 16 outputs' pairs

// tmm0-3 outputs (16 voxels x 16 fp32), tmm4 and tmm6 a product over 32 bf16 values (16 pairs),
// tmm5 and tmm7 one over 16 (8 pairs).
constexpr TileShapes kShapes = {{16, 16, 16, 16, 16, 16, 16, 8}, {64, 64, 64, 64, 64, 32, 64, 64}};

// f.template operator()<r>() for r < rows (at most kRowsPerStep): tile numbers are constants.
template <class F>
inline void for_output_tiles(int rows, F&& f) {
  [&]<int... r>(std::integer_sequence<int, r...>) {
    ((r < rows ? f.template operator()<r>() : void()), ...);
  }(std::make_integer_sequence<int, kRowsPerStep>{});
}

inline int padded_width(int w) { return (w + kTileVoxels - 1) / kTileVoxels * kTileVoxels; }

template <class Tiles>
void forward_on(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count, wide = padded_width(s.w), full = C / 32;
  PaddedPlaneWindow<uint16_t> window(s.h, wide, C);
  const int64_t rs = window.row_stride(), voxel_bytes = 2 * int64_t(C);
  std::vector<float> tiles(size_t(int64_t(s.h) * wide * kOutputs)), out(size_t(plane_voxels(s) * kOutputs));
  Tiles::configure(kShapes);
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) { stage_activation_plane(in, nn, zz, origin, rs); });
    for (int y0 = 0; y0 < s.h; y0 += kRowsPerStep) {
      const int rows = std::min(kRowsPerStep, s.h - y0);
      for (int x0 = 0; x0 < wide; x0 += kTileVoxels) {
        for_output_tiles(rows, [&]<int r>() { Tiles::template zero<r>(); });
        for (int tap = 0; tap < 27; ++tap) {
          const int kd = tap / 9, kh = tap / 3 % 3, kw = tap % 3;
          const uint16_t* a = window.plane(kd) + (y0 + kh) * rs + int64_t(x0 + kw) * C;
          const uint32_t* b = weight_pairs + int64_t(tap) * (C / 2) * kOutputs;
          for (int q = 0; q < full; ++q) {
            Tiles::template load<kB>(b + int64_t(q) * 16 * kOutputs, kPairBytes);
            for_output_tiles(rows, [&]<int r>() {
              Tiles::template load<kA>(a + r * rs + 32 * q, voxel_bytes);
              Tiles::template dot_bf16<r, kA, kB>();
            });
          }
          if (C % 32 != 0) {
            Tiles::template load<kBHalf>(b + int64_t(full) * 16 * kOutputs, kPairBytes);
            for_output_tiles(rows, [&]<int r>() {
              Tiles::template load<kAHalf>(a + r * rs + 32 * full, voxel_bytes);
              Tiles::template dot_bf16<r, kAHalf, kBHalf>();
            });
          }
        }
        for_output_tiles(rows, [&]<int r>() { Tiles::template store<r>(tiles.data() + ((y0 + r) * int64_t(wide) + x0) * kOutputs, kPairBytes); });
      }
    }
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x) {
        const f16 rounded = round_bf16(load_as<f16>(tiles.data() + (int64_t(y) * wide + x) * kOutputs));
        std::memcpy(out.data() + (int64_t(y) * s.w + x) * kOutputs, &rounded, sizeof rounded);
      }
    store_output_plane(u, n, z, out.data(), moments + p * kOutputs);
  }
  Tiles::release();
}

template <class Tiles>
void data_gradient_on(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin, int64_t end,
                      double* sums) {
  const VolumeShape& s = u.input.shape;
  const int C = u.input.count, wide = padded_width(s.w);
  PaddedPlaneWindow<uint16_t> window(s.h, wide, kOutputs);
  const int64_t rs = window.row_stride(), voxel_bytes = 2 * kOutputs;
  // The flipped weights' pairs, [C / 16][27 taps][8 output pairs][16 inputs]: taps kw = 0 and 1
  // of one (kd, kh) are 16 consecutive rows.
  const int64_t tap_words = (kOutputs / 2) * 16;
  std::vector<float> dx(size_t(kRowsPerStep * kTileVoxels * 16));
  Tiles::configure(kShapes);
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) { stage_output_gradient_plane(u, nn, zz, origin, rs); });
    const int64_t first = first_voxel(s, n, z);
    for (int cb = 0; cb < C / 16; ++cb) {
      DataGradientEpilogue<f16> epilogue(u, d, 16 * cb);
      const uint32_t* block = weight_pairs + int64_t(cb) * 27 * tap_words;
      for (int y0 = 0; y0 < s.h; y0 += kRowsPerStep) {
        const int rows = std::min(kRowsPerStep, s.h - y0);
        for (int x0 = 0; x0 < wide; x0 += kTileVoxels) {
          for_output_tiles(rows, [&]<int r>() { Tiles::template zero<r>(); });
          for (int kd = 0; kd < 3; ++kd)
            for (int kh = 0; kh < 3; ++kh) {
              const uint16_t* a = window.plane(kd) + (y0 + kh) * rs + int64_t(x0) * kOutputs;
              const uint32_t* b = block + (9 * kd + 3 * kh) * tap_words;
              Tiles::template load<kB>(b, kPairBytes);
              for_output_tiles(rows, [&]<int r>() {
                Tiles::template load<kA>(a + r * rs, voxel_bytes);
                Tiles::template dot_bf16<r, kA, kB>();
              });
              Tiles::template load<kBHalf>(b + 2 * tap_words, kPairBytes);
              for_output_tiles(rows, [&]<int r>() {
                Tiles::template load<kAHalf>(a + r * rs + 2 * kOutputs, voxel_bytes);
                Tiles::template dot_bf16<r, kAHalf, kBHalf>();
              });
            }
          for_output_tiles(rows, [&]<int r>() { Tiles::template store<r>(dx.data() + r * kTileVoxels * 16, kPairBytes); });
          const int voxels = std::min(kTileVoxels, s.w - x0);
          for (int r = 0; r < rows; ++r)
            for (int j = 0; j < voxels; ++j) {
              const int64_t v = first + int64_t(y0 + r) * s.w + x0 + j;
              epilogue.prefetch(v + 8);
              const f16 g = load_as<f16>(dx.data() + (r * kTileVoxels + j) * 16);
              epilogue.voxel(v, &g);
            }
        }
      }
      epilogue.add_sums(sums + (p * C + 16 * cb) * 2);
    }
  }
  Tiles::release();
}

// The weight gradient sums over voxels, so its tiles' reduction index is voxel pairs. Over a
// padded plane flattened (row length w + 2), tap (kh, kw) pairs input voxel J with output voxel
// J - offset, offset = kh (w + 2) + kw, for every voxel at once when the output gradient is laid
// out on the same padded grid with zeros off the volume. So the activated input plane is staged
// once as voxel pairs [pair][C][2] (the B tiles: 16 pairs x 16 channels), the output gradient once
// transposed [16 outputs][voxel] (the A tiles: 16 outputs x 32 voxels, read from any voxel on,
// shifted by the tap), and each tap's and 16 channels' 16 x 16 sums stay in one output tile for a
// whole plane: four channel blocks share each A tile.
template <class Tiles>
void weight_gradient_on(const UnitBackward& u, int64_t begin, int64_t end, float* partial) {
  const UnitInput& in = u.input;
  const VolumeShape& s = in.shape;
  const int C = in.count, blocks = C / 16;
  const int64_t padded_row = s.w + 2, padded_voxels = (s.h + 2) * padded_row;
  const int64_t steps = ((padded_voxels + 1) / 2 + 15) / 16, pairs = 16 * steps;  // of 16 voxel pairs
  PlaneWindowOf<uint16_t> window(pairs * 2 * C, 0);
  std::vector<uint16_t> flat(size_t(2 * pairs * C), 0);  // one padded plane, voxel by voxel, zero border
  // Voxel J - offset of the transposed gradient at front + J - offset: never before its start.
  const int64_t front = 2 * padded_row + 2, row_length = front + 2 * pairs;
  std::vector<uint16_t> transposed(size_t(kOutputs * row_length), 0);
  alignas(32) uint16_t gradient[kOutputs];
  std::vector<float> sums(size_t(27 * blocks * kOutputs * 16), 0.f);  // [tap][block][output][16 channels]
  Tiles::configure(kShapes);
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, uint16_t* origin) {
      stage_activation_plane(in, nn, zz, flat.data() + (padded_row + 1) * C, padded_row * C);
      for (int64_t q = 0; q < pairs; ++q)
        for (int c = 0; c < C; c += 16) {
          const uint16_t* left = flat.data() + 2 * q * C + c;
          store_interleaved(origin + 2 * (q * C + c), load16(left), load16(left + C));
        }
    });
    const int64_t first = first_voxel(s, n, z);
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x) {
        store16(gradient, output_gradient16(u, first + int64_t(y) * s.w + x));
        for (int o = 0; o < kOutputs; ++o) transposed[size_t(o * row_length + front + y * padded_row + x)] = gradient[o];
      }
    for (int tap = 0; tap < 27; ++tap) {
      const int kd = tap / 9, kh = tap / 3 % 3, kw = tap % 3;
      const uint16_t* activation = window.plane(kd);
      const uint16_t* shifted = transposed.data() + front - (kh * padded_row + kw);
      for (int b0 = 0; b0 < blocks; b0 += kRowsPerStep) {
        const int group = std::min(kRowsPerStep, blocks - b0);
        float* tile_sums = sums.data() + (int64_t(tap) * blocks + b0) * kOutputs * 16;
        for_output_tiles(group, [&]<int r>() { Tiles::template load<r>(tile_sums + r * kOutputs * 16, kPairBytes); });
        for (int64_t step = 0; step < steps; ++step) {
          Tiles::template load<kA>(shifted + 32 * step, 2 * row_length);
          for_output_tiles(group, [&]<int r>() {
            Tiles::template load<kB>(activation + 32 * step * C + 32 * (b0 + r), 4 * int64_t(C));
            Tiles::template dot_bf16<r, kA, kB>();
          });
        }
        for_output_tiles(group, [&]<int r>() { Tiles::template store<r>(tile_sums + r * kOutputs * 16, kPairBytes); });
      }
    }
  }
  Tiles::release();
  for (int tap = 0; tap < 27; ++tap)
    for (int b = 0; b < blocks; ++b)
      for (int o = 0; o < kOutputs; ++o)
        for (int c = 0; c < 16; ++c)
          partial[(int64_t(tap) * C + 16 * b + c) * kOutputs + o] += sums[size_t(((int64_t(tap) * blocks + b) * kOutputs + o) * 16 + c)];
}

}  // namespace

void forward_planes(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments) {
  if (cpu_amx_tiles() == AmxTiles::Emulated)
    forward_on<EmulatedTiles>(u, weight_pairs, begin, end, moments);
  else
    forward_on<HardwareTiles>(u, weight_pairs, begin, end, moments);
}

void weight_gradient_planes(const UnitBackward& u, int64_t begin, int64_t end, float* partial) {
  if (cpu_amx_tiles() == AmxTiles::Emulated)
    weight_gradient_on<EmulatedTiles>(u, begin, end, partial);
  else
    weight_gradient_on<HardwareTiles>(u, begin, end, partial);
}

void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin,
                          int64_t end, double* sums) {
  if (cpu_amx_tiles() == AmxTiles::Emulated)
    data_gradient_on<EmulatedTiles>(u, d, weight_pairs, begin, end, sums);
  else
    data_gradient_on<HardwareTiles>(u, d, weight_pairs, begin, end, sums);
}

}  // namespace mdcsrn::cpu_fused::amx

#pragma GCC pop_options
