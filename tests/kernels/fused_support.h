#pragma once
// What the tests of the fast path's kernels (kernels/fused) share: random NDHWC bf16 feature
// buffers, and the references' view of them in double.
#include <random>
#include <vector>

#include "kernels/activation.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/unit_activation.h"
#include "tests/support.h"

namespace mdcsrn::test {

constexpr uint16_t kPoison = 0x7fc0;  // a bf16 quiet NaN

struct UnitCase {
  VolumeShape shape;
  int stride, input_channel, input_channels, output_channel;
  ActivationSpec activation;
};

inline double bf16_value(uint16_t b) { return double(bf16_to_float(b)); }

// A feature buffer of random bf16 values with channels [first, first + count) poisoned.
inline std::vector<uint16_t> random_features(int64_t voxels, int stride, int first, int count, std::mt19937_64& rng) {
  std::vector<uint16_t> f(size_t(voxels * stride));
  for (uint16_t& b : f) b = float_to_bf16(float(random_values<double>(1, rng, 0.0, 2.0)[0] + 0.3));
  for (int64_t v = 0; v < voxels; ++v)
    for (int k = 0; k < count; ++k) f[size_t(v * stride + first + k)] = kPoison;
  return f;
}

// A unit's input activation act(x * scale + shift) of channels [first, first + count), as
// [voxel][count], rounded to bf16 as the kernels stage it.
inline std::vector<double> staged_activation(const std::vector<uint16_t>& features, int64_t voxels, int stride, int first, int count,
                                             const std::vector<float>& scale, const std::vector<float>& shift, const ActivationSpec& a) {
  std::vector<double> staged(size_t(voxels * count));
  for (int64_t v = 0; v < voxels; ++v)
    for (int k = 0; k < count; ++k) {
      const float x = bf16_to_float(features[size_t(v * stride + first + k)]);
      staged[size_t(v * count + k)] = bf16_value(float_to_bf16(unit_activation(a, x, scale[size_t(k)], shift[size_t(k)])));
    }
  return staged;
}

// The voxel that tap (kd, kh, kw) of a 3x3x3 convolution with zero padding reads for output voxel
// v, or -1 in the padding.
inline int64_t tap_neighbour(const VolumeShape& s, int64_t v, int tap) {
  const int64_t x = v % s.w, y = v / s.w % s.h, z = v / (int64_t(s.w) * s.h) % s.d, n = v / (int64_t(s.w) * s.h * s.d);
  const int64_t zz = z + tap / 9 - 1, yy = y + tap / 3 % 3 - 1, xx = x + tap % 3 - 1;
  if (zz < 0 || yy < 0 || xx < 0 || zz >= s.d || yy >= s.h || xx >= s.w) return -1;
  return ((n * s.d + zz) * s.h + yy) * s.w + xx;
}

}  // namespace mdcsrn::test
