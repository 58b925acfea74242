#pragma once
// The fast path's feature layout: every feature channel of the generator in one NDHWC bf16 buffer
// (a voxel's channels contiguous). A unit's input is a channel offset into it and the buffer's
// voxel stride, so dense-block concatenations cost nothing; offsets and strides are multiples of
// 8 channels, so that a voxel's channel groups are 16-byte aligned.
#include <cstdint>

#include "engine/bfloat16.h"
#include "engine/hd.h"
#include "engine/tensor.h"

namespace mdcsrn {

struct VolumeShape {
  int32_t n = 0, d = 0, h = 0, w = 0;
  MDCSRN_HD int64_t voxels() const { return int64_t(n) * d * h * w; }
};

// The voxel grid of an [N, C, D, H, W] tensor.
MDCSRN_HD VolumeShape volume_shape(const Shape5& s) { return VolumeShape{int32_t(s.n), int32_t(s.d), int32_t(s.h), int32_t(s.w)}; }

struct ChannelsLast {
  uint16_t* data = nullptr;  // bf16 bits, [n][d][h][w][stride]
  VolumeShape shape;
  int32_t stride = 0;  // channels per voxel

  MDCSRN_HD uint16_t* voxel(int64_t v) const { return data + v * stride; }
};

}  // namespace mdcsrn
