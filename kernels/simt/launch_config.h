#pragma once
// Grid and block extents (CUDA's dim3 / uint3) and a kernel launch's shape, on both targets.
#include <cstddef>
#include <source_location>

#include "engine/hd.h"

namespace mdcsrn::simt {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  MDCSRN_HD constexpr Dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  MDCSRN_HD constexpr unsigned long long volume() const { return (unsigned long long)x * y * z; }
};

// `where` names the launching line in the emulator's reports.
struct LaunchConfig {
  Dim3 grid, block;
  size_t shared_bytes = 0;
  std::source_location where;
  LaunchConfig(Dim3 grid_, Dim3 block_, size_t shared_bytes_ = 0, std::source_location where_ = std::source_location::current())
      : grid(grid_), block(block_), shared_bytes(shared_bytes_), where(where_) {}
};

}  // namespace mdcsrn::simt
