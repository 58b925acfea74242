#pragma once
// What the dense unit's bf16 kernels (unit_avx512_bf16.cpp, unit_amx.cpp) stage: the unit's input
// activated and rounded to bf16, and the deferred gradient of its 16 outputs rounded to bf16, voxel
// by voxel or a plane at a time into a window (kernels/cpu_fused/plane_window.h). Like simd.h,
// included only inside a kernel file's AVX-512 target region.
#include <algorithm>

#include "kernels/cpu_fused/microkernel_avx512_bf16.h"
#include "kernels/cpu_fused/unit_planes.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {
namespace {

inline __m256i to_bf16_register(f16 v) { return (__m256i)to_bf16(v); }

// Voxels are records of every channel of the network, of which a kernel reads a slice: a stride
// the hardware's prefetchers follow poorly, so the staging loops fetch the slice of the voxel
// kAhead voxels on themselves.
constexpr int kAhead = 4;
inline void prefetch(const void* p, int64_t bytes) {
  const char* first = static_cast<const char*>(p);
  for (int64_t offset = 0; offset < bytes + 63; offset += 64) _mm_prefetch(first + std::min(offset, bytes - 1), _MM_HINT_T0);
}

// The unit's input channels c..c + 15 at voxel v, activated and rounded to bf16.
inline __m256i activation16(const UnitInput& in, int64_t v, int c) {
  const uint16_t* src = in.features + v * in.stride + in.channel + c;
  const f16 x = load_bf16_as<f16>(src) * load_as<f16>(in.scale + c) + load_as<f16>(in.shift + c);
  return to_bf16_register(lanes_activation_forward(in.activation, x));
}

// The gradient of the unit's 16 outputs at voxel v, raw + b * y + c rounded to bf16.
inline __m256i output_gradient16(const UnitBackward& u, int64_t v) {
  const DeferredGradient& g = u.gradient;
  const int o = u.output_channel;
  const uint16_t* features = u.input.features + v * u.input.stride + o;
  const float* raw = g.raw_at(v, o);
  return to_bf16_register(load_as<f16>(g.b + o) * load_bf16_as<f16>(features) + load_as<f16>(raw) + load_as<f16>(g.c + o));
}

// Plane z of sample n of the unit's activated input: voxel (y, x) at origin + y * row_stride + x * C.
inline void stage_activation_plane(const UnitInput& in, int n, int z, uint16_t* origin, int64_t row_stride) {
  const VolumeShape& s = in.shape;
  const int C = in.count;
  const int64_t first = first_voxel(s, n, z);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const int64_t v = first + int64_t(y) * s.w + x;
      prefetch(in.features + (v + kAhead) * in.stride + in.channel, 2 * C);
      for (int c = 0; c < C; c += 16) store16(origin + y * row_stride + int64_t(x) * C + c, activation16(in, v, c));
    }
}

// Plane z of sample n of the gradient of the unit's outputs: voxel (y, x) at origin + y *
// row_stride + x * 16.
inline void stage_output_gradient_plane(const UnitBackward& u, int n, int z, uint16_t* origin, int64_t row_stride) {
  const VolumeShape& s = u.input.shape;
  const int64_t first = first_voxel(s, n, z);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) store16(origin + y * row_stride + int64_t(x) * kOutputs, output_gradient16(u, first + int64_t(y) * s.w + x));
}

}  // namespace
}  // namespace mdcsrn::cpu_fused::avx512_bf16
