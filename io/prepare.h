#pragma once
// Data preparation: from a brain-extracted HR volume (and a brain mask, and a cerebellum mask or a
// label volume) to the training inputs on the HR grid: normalised HR, k-space-truncated LR, masks,
// a high-frequency weight map and a JSON sidecar describing the synthesis.
#include <cstdint>
#include <string>

#include "engine/device.h"
#include "io/manifest.h"
#include "io/masks.h"

namespace mdcsrn {

class CudaContext;

struct PrepareOptions {
  std::string id = "subject";
  std::string hr;               // brain-extracted HR volume
  std::string brain_mask;       // optional: default is the non-zero voxels of hr
  std::string cerebellum_mask;  // a binary mask, or:
  std::string labels;           // a label volume, with
  std::string cerebellum_labels = "aseg";
  bool resample_labels = false;  // labels live on another grid of the same world space (e.g. AAL at 1 mm)
  KspaceTruncation kspace;
  bool renormalize_lr = false;  // the authors' code divides LR by its own maximum; off by default
  int weight_window = 7;        // side of the cube over which the high-frequency energy is averaged
  std::string out_dir;
};

struct PreparedSubject {
  SubjectEntry entry;  // paths relative to the manifest folder given to prepare_subject
  std::array<int64_t, 3> dims{};
  int64_t brain_voxels = 0, cerebellum_voxels = 0;
  Mask brain, cerebellum;  // may be released once the counts are taken (split_report needs them only for partial regions)
  Affine voxel_to_world{};
};

// Writes hr, lr, brain_mask, cerebellum_mask and hf_weight (.nii.gz) plus lr.json into
// options.out_dir. ctx (may be null) runs the FFTs on the GPU; otherwise FFTW.
PreparedSubject prepare_subject(const PrepareOptions& options, const std::string& manifest_folder, CudaContext* ctx);

// The split of one subject along the voxel axis closest to world x (RAS): the right hemisphere is
// the test slab; the left hemisphere trains, except its lateral quarter (of the brain's extent),
// which validates. The midline is world x = 0 when it crosses the brain (MNI-like spaces, e.g.
// Colin27), else the brain's centre of mass.
std::map<std::string, Region> hemisphere_split(const PreparedSubject& s);

// Per split: voxels of brain and cerebellum inside it, as a printable table.
std::string split_report(const Manifest& manifest, const std::vector<PreparedSubject>& subjects);

}  // namespace mdcsrn
