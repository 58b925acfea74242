#pragma once
// The common grid the brain-age regressor sees: every volume, whatever its resolution (HR, LR and
// SR share one grid per subject; subjects differ), resampled through its affine into one box of
// fixed size, isotropic spacing (2 mm by default) and axes along the world's, centred on the
// centre of the volume's field of view, by trilinear interpolation (zero outside the volume).
// Intensities are then divided by the 99.5th percentile of the box's positive voxels, so that
// scanners' and methods' scales do not tell ages apart.
#include <array>
#include <string>
#include <vector>

#include "io/volume.h"

namespace mdcsrn {

struct AgeGrid {
  double spacing = 2.0;                     // mm
  std::array<int64_t, 3> size{96, 112, 96};  // voxels along world x, y, z: 192 x 224 x 192 mm at 2 mm

  int64_t voxels() const { return size[0] * size[1] * size[2]; }
  std::string describe() const;
};

// The volume on the grid, x fastest then y then z (as a Volume's i, j, k); throws naming the
// volume's file when the box holds no positive voxel.
std::vector<float> resample_for_age(const Volume& v, const AgeGrid& grid);

// Refuses, naming the file, a volume whose geometry cannot be resampled (a singular affine): for
// checking a study's inputs from their headers alone before it writes anything.
void check_age_geometry(const Volume& v);

// The grid as a volume (for writing what the regressor sees, to check the box in a viewer).
Volume age_grid_volume(const Volume& v, const AgeGrid& grid, std::vector<float> values);

}  // namespace mdcsrn
