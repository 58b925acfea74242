#pragma once
// The engine's volumes and kernels run x fastest: [..., D, H, W] = [..., z, y, x] in NIfTI's voxel
// axes (i = x, j = y, k = z). nibabel's array of the same NIfTI file is indexed [x, y, z], so a
// PyTorch model fed it sees [N, C, x, y, z]. Files meant for PyTorch (checkpoints, dumped steps)
// therefore store every tensor whose last three axes are spatial (rank 4 or more: conv kernels,
// LayerNorm affines, batches of patches) with those three axes reversed; the map is its own inverse.
#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace mdcsrn {

// Stores `data` (engine order, `shape`) under `name` in nibabel's order.
void add_f32_in_nibabel_order(SafeTensors& st, const std::string& name, const std::vector<int64_t>& shape, const float* data);

// The tensor `name` read back into engine order; `shape` is the engine's. Throws naming the file
// unless it is stored with the shape nibabel's order gives.
std::vector<float> f32_from_nibabel_order(const SafeTensors& st, const std::string& name, const std::vector<int64_t>& shape);

// The shape and values with the last three axes reversed (unchanged below rank 4).
std::vector<int64_t> reversed_spatial_shape(std::vector<int64_t> shape);
std::vector<float> reverse_spatial_axes(const float* data, const std::vector<int64_t>& shape);

}  // namespace mdcsrn
