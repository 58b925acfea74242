#pragma once
// Trilinear interpolation of a volume at a continuous voxel position, in double precision.
#include <array>

#include "io/volume.h"

namespace mdcsrn {

// What a position beyond the outermost voxel centres reads: zero (resampling onto a larger box)
// or the nearest edge voxel (warping a volume within its own grid).
enum class Outside { Zero, Clamp };

float trilinear(const Volume& v, const std::array<double, 3>& voxel, Outside outside);

}  // namespace mdcsrn
