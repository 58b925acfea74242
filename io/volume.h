#pragma once
// A 3-D scalar image in memory: float32 voxels in NIfTI order (i fastest, then j, then k) plus the
// file's geometry, so that anything computed from it can be written back on the same grid and
// overlay the input in any viewer.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mdcsrn {

// The geometry of a NIfTI file (its header without voxel data); defined in volume.cpp.
struct NiftiHeader;

using Affine = std::array<std::array<double, 4>, 4>;  // voxel (i, j, k, 1) -> world (x, y, z, 1), mm

struct Volume {
  std::array<int64_t, 3> dims{};  // (ni, nj, nk)
  std::vector<float> data;
  // The source header (geometry: qform, sform, pixdim, units), without voxel data. Shared so that
  // derived volumes keep the very same geometry.
  std::shared_ptr<const NiftiHeader> header;
  std::string source;  // path it was read from, for messages

  int64_t voxels() const { return dims[0] * dims[1] * dims[2]; }
  int64_t index(int64_t i, int64_t j, int64_t k) const { return i + dims[0] * (j + dims[1] * k); }
  float& at(int64_t i, int64_t j, int64_t k) { return data[size_t(index(i, j, k))]; }
  float at(int64_t i, int64_t j, int64_t k) const { return data[size_t(index(i, j, k))]; }

  // As a 5-D tensor (1, 1, nk, nj, ni): k is the slowest axis, i the fastest.
  Tensor<const float> tensor() const;

  Affine voxel_to_world() const;
  std::array<double, 3> voxel_size() const;

  // A volume on the same grid with new voxel values.
  Volume like(std::vector<float> values) const;
};

// A zero-filled volume of the given size with an axis-aligned grid: voxel (i, j, k) lies at world
// origin + (i, j, k) * spacing (RAS, mm). For synthetic data and tests.
Volume new_volume(const std::array<int64_t, 3>& dims, const std::array<double, 3>& spacing, const std::array<double, 3>& origin);
// The same with any voxel-to-world affine (rotated, flipped or sheared grids); the qform is its
// nearest rigid-plus-scale map.
Volume new_volume(const std::array<int64_t, 3>& dims, const Affine& voxel_to_world);

// Reads a 3-D scalar NIfTI-1 or NIfTI-2 file (.nii or .nii.gz; uint8, int16, uint16, int32,
// float32 or float64), applying scl_slope/scl_inter. Throws a one-line Error naming the file for
// a missing, truncated or corrupt file, more than one volume, or NaN/Inf voxels.
Volume read_volume(const std::string& path);

// The same checks but the voxels', and the geometry alone (dims and header; no data): to check many
// inputs before a long run writes anything. Whether the voxels are all there is judged from an
// uncompressed file's length, and from a gzip file's length trailer; only where that trailer
// disagrees with the header (a cut file, or a file of several gzip members) are the voxels read.
Volume read_volume_header(const std::string& path);

// Writes float32 voxels with the geometry of `volume.header`, through a temporary file renamed
// into place, so a failure never leaves a half-written output.
void write_volume(const Volume& volume, const std::string& path, const std::string& description = "");

// Throws unless b has a's dimensions and voxel-to-world affine (within 1e-3 mm); `what` names b.
void require_same_grid(const Volume& a, const Volume& b, const std::string& what);

// Writes text to path through a temporary file and a rename.
void write_text_atomically(const std::string& path, const std::string& text);

// A hidden temporary name beside `path` (the same folder, so a rename moves it into place) that
// keeps the extension nifticlib reads the format from (.nii or .nii.gz).
std::string temporary_name(const std::string& path);

}  // namespace mdcsrn
