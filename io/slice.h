#pragma once
// 2-D slices of a volume for the report figures, oriented as radiological viewers show them.
#include <array>
#include <cstdint>
#include <vector>

namespace mdcsrn {

// A 2-D slice of a volume: rows x cols values, row-major (voxels are drawn square).
struct Slice {
  std::vector<float> values;
  int cols = 0, rows = 0;
};

// Voxel-axis slices through (i, j, k) of an [n0, n1, n2] volume stored with axis 0 fastest, each
// shown the way radiological viewers do for an RAS-oriented volume (superior/anterior up):
// axial = fixed axis 2, coronal = fixed axis 1, sagittal = fixed axis 0.
Slice axial_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t k);
Slice coronal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t j);
Slice sagittal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t i);
// The window [c0, c0 + cols) x [r0, r0 + rows) of a slice (clamped to it).
Slice crop(const Slice& s, int c0, int r0, int cols, int rows);

}  // namespace mdcsrn
