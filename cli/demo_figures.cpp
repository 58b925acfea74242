#include "cli/demo_figures.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "engine/error.h"

namespace mdcsrn::cli {
namespace {

// Grey window: HR is normalised to its maximum, so [0, 1] shows every volume on HR's scale.
constexpr float kGreyLow = 0.f, kGreyHigh = 1.f;

Slice view(const Volume& v, int axis, int64_t at) {
  if (axis == 2) return axial_slice(v.data, v.dims, at);
  if (axis == 1) return coronal_slice(v.data, v.dims, at);
  return sagittal_slice(v.data, v.dims, at);
}

// The part of a view of `axis` that shows `box`: the slice helpers put the first in-plane voxel
// axis along columns and flip the second so that it points up.
Slice view_of_box(const Volume& v, int axis, int64_t at, const VoxelBox& box) {
  const Slice s = view(v, axis, at);
  const int ca = axis == 0 ? 1 : 0, ra = axis == 2 ? 1 : 2;  // voxel axes along columns and rows
  const int64_t rows = v.dims[size_t(ra)];
  return crop(s, int(box.lo[size_t(ca)]), int(rows - box.hi[size_t(ra)]), int(box.hi[size_t(ca)] - box.lo[size_t(ca)]),
              int(box.hi[size_t(ra)] - box.lo[size_t(ra)]));
}

std::vector<std::string> names(const std::vector<NamedVolume>& volumes) {
  std::vector<std::string> n;
  for (const NamedVolume& v : volumes) n.push_back(v.name);
  return n;
}

}  // namespace

VoxelBox bounding_box(const Volume& mask, const VoxelBox& within, const std::string& what) {
  VoxelBox box{{within.hi[0], within.hi[1], within.hi[2]}, {within.lo[0], within.lo[1], within.lo[2]}};
  for (int64_t k = within.lo[2]; k < within.hi[2]; ++k)
    for (int64_t j = within.lo[1]; j < within.hi[1]; ++j)
      for (int64_t i = within.lo[0]; i < within.hi[0]; ++i)
        if (mask.at(i, j, k) != 0.f) {
          const int64_t p[3] = {i, j, k};
          for (int a = 0; a < 3; ++a) {
            box.lo[size_t(a)] = std::min(box.lo[size_t(a)], p[a]);
            box.hi[size_t(a)] = std::max(box.hi[size_t(a)], p[a] + 1);
          }
        }
  if (box.lo[0] >= box.hi[0]) fail(what + ": no voxels inside the region");
  return box;
}

Figure three_view_figure(const std::vector<NamedVolume>& volumes, const VoxelBox& box, const std::array<int64_t, 3>& centre,
                         const std::string& title) {
  std::vector<std::vector<Slice>> panels;
  for (const NamedVolume& v : volumes)
    panels.push_back({view_of_box(*v.volume, 2, centre[2], box), view_of_box(*v.volume, 1, centre[1], box),
                      view_of_box(*v.volume, 0, centre[0], box)});
  return slice_grid(names(volumes), {"axial", "coronal", "sagittal"}, panels, kGreyLow, kGreyHigh, 1, title);
}

Figure cerebellum_figure(const std::vector<NamedVolume>& volumes, const VoxelBox& cerebellum, const std::string& title) {
  VoxelBox box = cerebellum;
  const Volume& first = *volumes.front().volume;
  for (size_t a = 0; a < 3; ++a) {
    box.lo[a] = std::max<int64_t>(0, box.lo[a] - 6);
    box.hi[a] = std::min<int64_t>(first.dims[a], box.hi[a] + 6);
  }
  const std::array<int64_t, 3> c = cerebellum.centre();
  // One row per view, one column per volume: the paper's close-ups put methods side by side.
  std::vector<std::vector<Slice>> panels(2);
  for (const NamedVolume& v : volumes) {
    panels[0].push_back(view_of_box(*v.volume, 0, c[0], box));
    panels[1].push_back(view_of_box(*v.volume, 1, c[1], box));
  }
  return slice_grid({"sagittal", "coronal"}, names(volumes), panels, kGreyLow, kGreyHigh, 2, title);
}

Figure loss_figure(const std::vector<TrainingCurve>& curves) {
  std::vector<Series> series;
  for (const TrainingCurve& c : curves) series.push_back({c.name, c.color, c.steps, c.losses});
  return line_plot("training loss (L1, batch mean)", "step", "loss", series);
}

Figure validation_figure(const std::vector<TrainingCurve>& curves, double lr_psnr) {
  std::vector<Series> series;
  double last_epoch = 1;
  for (const TrainingCurve& c : curves) {
    series.push_back({c.name, c.color, c.epochs, c.val_psnr});
    if (!c.epochs.empty()) last_epoch = std::max(last_epoch, c.epochs.back());
  }
  series.push_back({"LR input", {120, 120, 120}, {1, last_epoch}, {lr_psnr, lr_psnr}, true});
  return line_plot("validation PSNR (val split patches)", "epoch", "PSNR dB", series);
}

TrainingCurve read_training_curve(const std::string& log_path, const std::string& name, Rgb color) {
  std::ifstream in(log_path);
  if (!in) fail(log_path + ": cannot open the training log");
  TrainingCurve curve{name, color, {}, {}, {}, {}};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      fail(log_path + ": a line is not JSON (" + std::string(e.what()) + ")");
    }
    if (record.contains("val_psnr")) {
      curve.epochs.push_back(record["epoch"].get<double>());
      curve.val_psnr.push_back(record["val_psnr"].get<double>());
    } else if (record.contains("lr")) {
      curve.steps.push_back(record["step"].get<double>());
      curve.losses.push_back(record["loss"].get<double>());
    }
  }
  return curve;
}

}  // namespace mdcsrn::cli
