#include "io/nibabel_order.h"

#include <algorithm>

namespace mdcsrn {

std::vector<int64_t> reversed_spatial_shape(std::vector<int64_t> shape) {
  if (shape.size() >= 4) std::reverse(shape.end() - 3, shape.end());
  return shape;
}

std::vector<float> reverse_spatial_axes(const float* data, const std::vector<int64_t>& shape) {
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  if (shape.size() < 4) return std::vector<float>(data, data + total);
  const size_t r = shape.size();
  const int64_t d = shape[r - 3], h = shape[r - 2], w = shape[r - 1], volume = d * h * w;
  std::vector<float> out(static_cast<size_t>(total));
  for (int64_t base = 0; base < total; base += volume)
    for (int64_t z = 0; z < d; ++z)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) out[size_t(base + (x * h + y) * d + z)] = data[base + (z * h + y) * w + x];
  return out;
}

void add_f32_in_nibabel_order(SafeTensors& st, const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  st.add_f32(name, reversed_spatial_shape(shape), reverse_spatial_axes(data, shape).data());
}

std::vector<float> f32_from_nibabel_order(const SafeTensors& st, const std::string& name, const std::vector<int64_t>& shape) {
  const std::vector<int64_t> stored = reversed_spatial_shape(shape);
  return reverse_spatial_axes(st.f32(name, stored).data(), stored);
}

}  // namespace mdcsrn
