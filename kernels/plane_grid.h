#pragma once
// Grids over the (sample, channel) planes of 5-D tensors, for the elementwise and reduction
// kernels on both targets. A block works inside one plane: it finds its plane from its block index
// (one 32-bit division per thread, none per element), takes 64-bit plane pointers by
// multiplication, and walks 32-bit offsets inside the dense D*H*W plane, four floats at a time
// (16-byte accesses) when every plane of every operand is 16-byte aligned.
#include <algorithm>
#include <cstdint>

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

  // Block (x, y) works on part x of plane y.
  MDCSRN_DEVICE PlaneCoords plane() const {
    const unsigned index = simt::block_idx().y;
    const unsigned n = index / unsigned(channels);
    return PlaneCoords{int64_t(n), int64_t(index - n * unsigned(channels))};
  }
  MDCSRN_DEVICE int part() const { return int(simt::block_idx().x); }
  MDCSRN_DEVICE int parts() const { return int(simt::grid_dim().x); }
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
  const int32_t step = int32_t(simt::grid_dim().x * simt::block_dim().x);
  const int32_t first = int32_t(simt::block_idx().x * simt::block_dim().x + simt::thread_idx().x);
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
  MDCSRN_REQUIRE(planes >= 1 && planes <= 65535, "plane grid: " + shape.str() + " has more than 65535 (sample, channel) planes");
  return simt::LaunchConfig(simt::Dim3(unsigned(parts), unsigned(planes)), simt::Dim3(kThreads), shared_bytes, where);
}

inline PlaneGrid plane_grid(const Shape5& shape, int width) {
  MDCSRN_REQUIRE(shape.spatial() < (int64_t(1) << 31), "plane grid: planes of " + shape.str() + " exceed 2^31 elements");
  MDCSRN_REQUIRE(shape.c < (int64_t(1) << 31), "plane grid: too many channels in " + shape.str());
  return PlaneGrid{int32_t(shape.spatial()), int32_t(shape.c), int32_t(width)};
}

// Blocks per plane for elementwise passes: enough for ~4 accesses per thread.
inline int elementwise_parts(const Shape5& shape, int width) {
  const int64_t accesses = shape.spatial() / width;
  return int(std::clamp<int64_t>((accesses + 4 * kThreads - 1) / (4 * kThreads), 1, 1024));
}

}  // namespace mdcsrn
