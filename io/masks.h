#pragma once
// Brain and cerebellum masks (REFERENCE.md section 8) and nearest-neighbour resampling of label
// volumes between grids. Masks are one byte per voxel, 1 inside, on a Volume's grid.
#include <cstdint>
#include <string>
#include <vector>

#include "io/volume.h"

namespace mdcsrn {

using Mask = std::vector<uint8_t>;

// Voxels where the volume is non-zero (the brain of a brain-extracted image, or a binary mask).
Mask nonzero_mask(const Volume& v);
int64_t count(const Mask& m);

// Which labels make the cerebellum, and whether interior holes are filled.
struct CerebellumLabels {
  std::string name;  // "aseg", "aal" or "labels"
  std::vector<int> labels;
  bool fill_holes = false;
};
// "aseg" (FreeSurfer/FastSurfer, HCP aparc+aseg: 7, 8, 46, 47), "aal" (91-116, holes filled, as
// AAL leaves the cerebellar white matter unlabelled) or an explicit comma-separated list.
CerebellumLabels parse_cerebellum_labels(const std::string& spec);

Mask labels_to_mask(const Volume& labels, const CerebellumLabels& which);

// Sets every background voxel that cannot be reached from the volume's border through
// background, in any 2-D slice along any of the three axes: the enclosed holes of the mask.
void fill_holes(Mask& mask, const std::array<int64_t, 3>& dims);

// `source` resampled onto `target`'s grid through both voxel-to-world affines, nearest neighbour;
// voxels mapping outside the source get 0.
Volume resample_nearest(const Volume& source, const Volume& target);

Volume mask_volume(const Volume& grid, const Mask& m);

}  // namespace mdcsrn
