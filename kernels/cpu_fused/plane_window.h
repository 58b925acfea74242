#pragma once
// Depth planes z - 1, z, z + 1 of one sample, staged in fp32 with a one-voxel zero border (the
// convolutions' padding) and all zeros beyond the volume's first and last planes: what a 3x3x3
// convolution's output plane z reads. Moving to plane z + 1 of the same sample stages one new
// plane; a thread walks its consecutive planes this way.
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace mdcsrn::cpu_fused {

class PlaneWindow {
 public:
  PlaneWindow(int height, int width, int channels)
      : height_(height), width_(width), channels_(channels), plane_size_(int64_t(height + 2) * (width + 2) * channels) {
    for (std::vector<float>& s : storage_) s.assign(size_t(plane_size_), 0.f);
    for (int k = 0; k < 3; ++k) slot_[k] = storage_[k].data();
  }

  // Centres the window on plane z of sample n (depth planes in all). fill(n, z, origin) stages
  // plane z's voxel (y, x) at origin + (y * row_stride() + x * channels) for y < height, x < width.
  template <class Fill>
  void centre(int n, int z, int depth, Fill&& fill) {
    const bool next = n == n_ && z == z_ + 1;
    if (next) {
      std::swap(slot_[0], slot_[1]);
      std::swap(slot_[1], slot_[2]);
    }
    for (int k = next ? 2 : 0; k < 3; ++k) {
      const int plane = z + k - 1;
      if (plane < 0 || plane >= depth)
        std::memset(slot_[k], 0, sizeof(float) * size_t(plane_size_));
      else
        fill(n, plane, slot_[k] + row_stride() + channels_);
    }
    n_ = n, z_ = z;
  }

  // Plane z + k - 1 (k = 0, 1, 2), from its border's corner.
  const float* plane(int k) const { return slot_[k]; }
  int64_t row_stride() const { return int64_t(width_ + 2) * channels_; }
  int channels() const { return channels_; }

 private:
  int height_, width_, channels_;
  int64_t plane_size_;
  std::vector<float> storage_[3];
  float* slot_[3];
  int n_ = -1, z_ = -2;
};

}  // namespace mdcsrn::cpu_fused
