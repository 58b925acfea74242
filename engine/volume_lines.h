#pragma once
// Separable passes over a 3-D volume (NIfTI order, i fastest) visit it as lines along one axis.
#include <array>
#include <cstdint>

namespace mdcsrn {

// Distance between neighbours along `axis`.
inline int64_t axis_step(int axis, const std::array<int64_t, 3>& dims) {
  return axis == 0 ? 1 : (axis == 1 ? dims[0] : dims[0] * dims[1]);
}

// Index of the first voxel of line `line` (0 <= line < voxels / dims[axis]) along `axis`.
inline int64_t axis_line_start(int axis, int64_t line, const std::array<int64_t, 3>& dims) {
  const int64_t n = dims[size_t(axis)];
  return axis == 0 ? line * n : (axis == 1 ? (line / dims[0]) * dims[0] * n + line % dims[0] : line);
}

}  // namespace mdcsrn
