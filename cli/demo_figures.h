#pragma once
// The demo report's figures: mid-slices of the compared volumes in three views, a close-up of the
// cerebellum (as the paper's Figs. 4-6), and the training curves.
#include <array>
#include <string>
#include <vector>

#include "io/figure.h"
#include "io/volume.h"
#include "models/trainer.h"

namespace mdcsrn::cli {

// An axis-aligned box of voxels, [lo, hi) per axis.
struct VoxelBox {
  std::array<int64_t, 3> lo{}, hi{};
  std::array<int64_t, 3> centre() const { return {(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2}; }
};

// The bounding box of the non-zero voxels of mask inside `within`; throws when there are none.
VoxelBox bounding_box(const Volume& mask, const VoxelBox& within, const std::string& what);

struct NamedVolume {
  std::string name;
  const Volume* volume;
};

// One row per volume, one column per view (axial, coronal, sagittal) through `centre`, each view
// cropped to `box`.
Figure three_view_figure(const std::vector<NamedVolume>& volumes, const VoxelBox& box, const std::array<int64_t, 3>& centre,
                         const std::string& title);

// Sagittal and coronal views through the centre of the cerebellum box (plus a margin), enlarged.
Figure cerebellum_figure(const std::vector<NamedVolume>& volumes, const VoxelBox& cerebellum, const std::string& title);

struct TrainingCurve {
  std::string name;
  Rgb color;
  std::vector<double> steps, losses;  // training loss at each log point
  std::vector<double> epochs, val_psnr;
};

Figure loss_figure(const std::vector<TrainingCurve>& curves);
// Validation PSNR per epoch, with the LR input's PSNR on the same patches as a dashed line.
Figure validation_figure(const std::vector<TrainingCurve>& curves, double lr_psnr);

// The curves of a finished run, from its OUT/log.jsonl.
TrainingCurve read_training_curve(const std::string& log_path, const std::string& name, Rgb color);

}  // namespace mdcsrn::cli
