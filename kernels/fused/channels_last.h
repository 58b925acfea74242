#pragma once
// The fast path's feature layout: every feature channel of the generator in one NDHWC bf16 buffer
// (a voxel's channels contiguous). A unit's input is a channel offset into it and the buffer's
// voxel stride, so dense-block concatenations cost nothing; offsets and strides are multiples of
// 8 channels, so that a voxel's channel groups are 16-byte aligned.
#include <cstdint>

#include "engine/bfloat16.h"
#include "engine/error.h"
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

namespace cpu {

// Channels [first, first + x.shape.c) of `dst` from an NCDHW tensor, rounded to bf16.
template <class T>
void to_channels_last(Tensor<const T> x, ChannelsLast dst, int32_t first) {
  MDCSRN_REQUIRE(x.shape.n == dst.shape.n && x.shape.d == dst.shape.d && x.shape.h == dst.shape.h && x.shape.w == dst.shape.w &&
                     first + x.shape.c <= dst.stride,
                 "to_channels_last: " + x.shape.str() + " does not fit the buffer");
  const int64_t spatial = x.shape.spatial();
  for (int64_t n = 0; n < x.shape.n; ++n)
    for (int64_t c = 0; c < x.shape.c; ++c) {
      const T* plane = x.plane(n, c);
      for (int64_t s = 0; s < spatial; ++s) dst.voxel(n * spatial + s)[first + c] = float_to_bf16(float(plane[s]));
    }
}

// Channels [first, first + y.shape.c) of `src` into an NCDHW tensor.
template <class T>
void from_channels_last(ChannelsLast src, int32_t first, Tensor<T> y) {
  const int64_t spatial = y.shape.spatial();
  for (int64_t n = 0; n < y.shape.n; ++n)
    for (int64_t c = 0; c < y.shape.c; ++c) {
      T* plane = y.plane(n, c);
      for (int64_t s = 0; s < spatial; ++s) plane[s] = T(bf16_to_float(src.voxel(n * spatial + s)[first + c]));
    }
}

}  // namespace cpu

namespace gpu {
// Channels [first, first + dst.shape.c) of `src` into the NCDHW fp32 tensor dst (channel counts
// and offsets multiples of 8): what the reference kernels read.
template <class Context>
void planes_from_channels_last(Context& ctx, ChannelsLast src, int first, Tensor<float> dst);
}  // namespace gpu
}  // namespace mdcsrn
