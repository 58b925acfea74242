#pragma once
// Depth planes z - 1, z, z + 1 of one sample, staged with all zeros beyond the volume's first and
// last planes: what a 3x3x3 convolution's output plane z reads. Moving to plane z + 1 of the same
// sample stages one new plane; a thread walks its consecutive planes this way. The usual layout is
// fp32 voxels with a one-voxel zero border (the convolutions' padding); a kernel with its own
// layout gives the plane's size and where its fill starts.
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace mdcsrn::cpu_fused {

template <class T>
class PlaneWindowOf {
 public:
  // Planes of `elements` values, zero at first; each fill writes from offset `origin` of its plane
  // on and leaves what it does not write (a border) zero.
  PlaneWindowOf(int64_t elements, int64_t origin) : elements_(elements), origin_(origin) {
    for (std::vector<T>& s : storage_) s.assign(size_t(elements), T(0));
    for (int k = 0; k < 3; ++k) slot_[k] = storage_[k].data();
  }

  // Centres the window on plane z of sample n (depth planes in all): fill(n, z, plane + origin)
  // stages plane z.
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
        std::memset(slot_[k], 0, sizeof(T) * size_t(elements_));
      else
        fill(n, plane, slot_[k] + origin_);
    }
    n_ = n, z_ = z;
  }

  // Plane z + k - 1 (k = 0, 1, 2), from its start.
  const T* plane(int k) const { return slot_[k]; }

 private:
  int64_t elements_, origin_;
  std::vector<T> storage_[3];
  T* slot_[3];
  int n_ = -1, z_ = -2;
};

// Rows of width + 2 voxels of `channels` values, a one-voxel zero border around height x width;
// fill stages voxel (y, x) at origin + (y * row_stride() + x * channels).
template <class T>
class PaddedPlaneWindow : public PlaneWindowOf<T> {
 public:
  PaddedPlaneWindow(int height, int width, int channels)
      : PlaneWindowOf<T>(int64_t(height + 2) * (width + 2) * channels, int64_t(width + 3) * channels),
        row_stride_(int64_t(width + 2) * channels) {}
  int64_t row_stride() const { return row_stride_; }

 private:
  int64_t row_stride_;
};

using PlaneWindow = PaddedPlaneWindow<float>;

}  // namespace mdcsrn::cpu_fused
