#pragma once
// What the dense unit's CPU kernels share whatever instruction set their tile uses (unit.cpp: AVX2
// and FMA; unit_avx512_bf16.cpp): the NDHWC addressing, the forward's output plane written back
// with its moments, and the data gradient's epilogue (the activation's and BatchNorm's backward as
// the GPU kernel applies it). Like simd.h, included only inside a kernel file's target region.
#include <vector>

#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/cpu_fused/simd.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"

namespace mdcsrn::cpu_fused {
namespace {

constexpr int kOutputs = UnitTile::kOutputs;

inline int64_t first_voxel(const VolumeShape& s, int n, int z) { return (int64_t(n) * s.d + z) * s.h * s.w; }
inline int64_t plane_voxels(const VolumeShape& s) { return int64_t(s.h) * s.w; }

// Plane z of sample n of the unit's outputs, out[voxel][16] in fp32 already rounded to bf16: into
// the feature buffer, and its moments into moments[16].
inline void store_output_plane(const UnitForward& u, int n, int z, const float* out, PlaneMoments* moments) {
  const VolumeShape& s = u.input.shape;
  const int64_t first = first_voxel(s, n, z);
  for (int64_t i = 0; i < plane_voxels(s); ++i) {
    uint16_t* dst = u.output + (first + i) * u.input.stride + u.output_channel;
    store_bf16x8(dst, load8(out + i * kOutputs));
    store_bf16x8(dst + 8, load8(out + i * kOutputs + 8));
  }
  plane_moments(out, plane_voxels(s), kOutputs, kOutputs, moments);
}

// The data gradient's epilogue for 16 input channels from c on, voxel by voxel over one plane:
// given the sums dx of weights x output gradient at a voxel (16 / lanes vectors of F, f8 or f16),
// g = dx through the activation's backward, raw += scale * g, and the plane's sums of g and
// g * xhat.
template <class F>
class DataGradientEpilogue {
 public:
  static constexpr int kLanes = int(sizeof(F) / sizeof(float)), kParts = 16 / kLanes;

  DataGradientEpilogue(const UnitBackward& u, const UnitDataGradient& d, int c) : u_(u), c_(c) {
    const UnitInput& in = u.input;
    for (int h = 0; h < kParts; ++h) {
      const int ch = c + kLanes * h;
      scale_[h] = load_as<F>(in.scale + ch), shift_[h] = load_as<F>(in.shift + ch);
      mean_[h] = load_as<F>(d.mean + ch), invstd_[h] = load_as<F>(d.invstd + ch);
      sum_g_[h] = sum_gx_[h] = F{};
    }
  }

  void voxel(int64_t v, const F* dx) {
    const UnitInput& in = u_.input;
    const uint16_t* features = in.features + v * in.stride + in.channel + c_;
    float* raw = u_.gradient.raw_at(v, in.channel + c_);
    for (int h = 0; h < kParts; ++h) {
      const F x = load_bf16_as<F>(features + kLanes * h);
      const F g = lanes_activation_backward(in.activation, x * scale_[h] + shift_[h], dx[h]);
      const F updated = load_as<F>(raw + kLanes * h) + scale_[h] * g;
      std::memcpy(raw + kLanes * h, &updated, sizeof updated);
      sum_g_[h] += g;
      sum_gx_[h] += g * ((x - mean_[h]) * invstd_[h]);
    }
  }

  // Fetches voxel v's operands ahead of voxel(v): the feature buffer's and the raw gradients'
  // voxels are records of every channel, a stride the hardware's prefetchers follow poorly.
  void prefetch(int64_t v) const {
    const UnitInput& in = u_.input;
    __builtin_prefetch(in.features + v * in.stride + in.channel + c_);
    __builtin_prefetch(u_.gradient.raw_at(v, in.channel + c_), 1);
  }

  // Adds the plane's sums to sums[16][2] (the plane's entries for channels c..c + 15).
  void add_sums(double* sums) const {
    for (int h = 0; h < kParts; ++h)
      for (int k = 0; k < kLanes; ++k) {
        sums[2 * (kLanes * h + k)] += double(sum_g_[h][k]);
        sums[2 * (kLanes * h + k) + 1] += double(sum_gx_[h][k]);
      }
  }

 private:
  const UnitBackward& u_;
  int c_;
  F scale_[kParts], shift_[kParts], mean_[kParts], invstd_[kParts], sum_g_[kParts], sum_gx_[kParts];
};

}  // namespace
}  // namespace mdcsrn::cpu_fused
