#pragma once
// Grids over the (sample, channel) planes of 5-D tensors, for the elementwise and reduction
// kernels on both targets. Planes run along the grid's x (up to 2^31 - 1 blocks: a critic's
// [64, 1024] hidden layer has 65,536 planes, past y's 65,535), a plane's parts along y (at most
// 1024). A block works inside one plane: it finds its plane from its block index
// (one 32-bit division per thread, none per element), takes 64-bit plane pointers by
// multiplication, and walks 32-bit offsets inside the dense D*H*W plane, four floats at a time
// (16-byte accesses) when every plane of every operand is 16-byte aligned.
#include <algorithm>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/tensor.h"
#include "kernels/simt/launch_config.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

constexpr int kThreads = 256;  // threads per block of the planar kernels

struct PlaneCoords {
  int64_t n, c;
};

struct PlaneGrid {
  int32_t spatial = 0;   // elements per plane
  int32_t channels = 0;  // planes are numbered n * channels + c
  int32_t width = 1;     // elements per access: 4 (16-byte vectors) or 1

  // Block (x, y) works on part y of plane x.
  MDCSRN_DEVICE PlaneCoords plane() const {
    const unsigned index = simt::block_idx().x;
    const unsigned n = index / unsigned(channels);
    return PlaneCoords{int64_t(n), int64_t(index - n * unsigned(channels))};
  }
  MDCSRN_DEVICE int part() const { return int(simt::block_idx().y); }
  MDCSRN_DEVICE int parts() const { return int(simt::grid_dim().y); }
};

// The values one access of W elements moves.
template <int W>
struct Lanes {
  float v[W];
};

template <int W>
MDCSRN_DEVICE Lanes<W> load_lanes(const float* p) {
  if constexpr (W == 4) {
    const simt::Float4 f = simt::load4(p);
    return Lanes<4>{{f.x, f.y, f.z, f.w}};
  } else {
    return Lanes<1>{{*p}};
  }
}

template <int W>
MDCSRN_DEVICE void store_lanes(float* p, const Lanes<W>& l) {
  if constexpr (W == 4)
    simt::store4(p, simt::Float4{l.v[0], l.v[1], l.v[2], l.v[3]});
  else
    *p = l.v[0];
}

template <int W>
struct Width {
  static constexpr int value = W;
};

// Calls body(plane, s, Width<W>{}) for this block's share of its plane: elements s .. s + W - 1.
template <class Body>
MDCSRN_DEVICE void for_each_plane_chunk(const PlaneGrid& g, Body&& body) {
  const PlaneCoords p = g.plane();
  const int32_t step = int32_t(g.parts() * int(simt::block_dim().x));
  const int32_t first = int32_t(g.part() * int(simt::block_dim().x) + int(simt::thread_idx().x));
  if (g.width == 4) {
    for (int32_t v = first; v < g.spatial / 4; v += step) body(p, 4 * v, Width<4>{});
  } else {
    for (int32_t s = first; s < g.spatial; s += step) body(p, s, Width<1>{});
  }
}

// --- host side -------------------------------------------------------------------------------

// 4 when the planes of every operand start 16-byte aligned and hold a multiple of 4 elements.
template <class... Tensors>
int vector_width(const Tensors&... tensors) {
  bool aligned = true;
  auto check = [&](const auto& t) {
    aligned = aligned && t.shape.spatial() % 4 == 0 && reinterpret_cast<uintptr_t>(t.data) % 16 == 0 && t.stride.n % 4 == 0 &&
              t.stride.c % 4 == 0;
  };
  (check(tensors), ...);
  return aligned ? 4 : 1;
}

// A grid over every plane of `shape` with `parts` blocks per plane.
inline simt::LaunchConfig plane_launch(const Shape5& shape, int parts, size_t shared_bytes = 0,
                                       std::source_location where = std::source_location::current()) {
  const int64_t planes = shape.n * shape.c;
  MDCSRN_ASSERT(planes >= 1 && planes < (int64_t(1) << 31), "plane grid: " + shape.str() + " has 2^31 or more (sample, channel) planes");
  MDCSRN_ASSERT(parts >= 1 && parts <= 65535, "plane grid: " + std::to_string(parts) + " blocks per plane");
  // Planes smaller than a block (a critic's 1^3 hidden layer) get one warp's worth of threads per
  // 32 elements instead of 256 mostly idle ones.
  const int64_t threads = std::min<int64_t>(kThreads, (shape.spatial() + 31) / 32 * 32);
  return simt::LaunchConfig(simt::Dim3(unsigned(planes), unsigned(parts)), simt::Dim3(unsigned(threads)), shared_bytes, where);
}

inline PlaneGrid plane_grid(const Shape5& shape, int width) {
  MDCSRN_ASSERT(shape.spatial() < (int64_t(1) << 31), "plane grid: planes of " + shape.str() + " exceed 2^31 elements");
  MDCSRN_ASSERT(shape.c < (int64_t(1) << 31), "plane grid: too many channels in " + shape.str());
  return PlaneGrid{int32_t(shape.spatial()), int32_t(shape.c), int32_t(width)};
}

// Blocks per plane for elementwise passes: enough for ~4 accesses per thread.
inline int elementwise_parts(const Shape5& shape, int width) {
  const int64_t accesses = shape.spatial() / width;
  return int(std::clamp<int64_t>((accesses + 4 * kThreads - 1) / (4 * kThreads), 1, 1024));
}

}  // namespace mdcsrn
