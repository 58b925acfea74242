#include "io/slice.h"

#include <algorithm>

namespace mdcsrn {

Slice axial_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t k) {
  Slice s{std::vector<float>(size_t(d[0] * d[1])), int(d[0]), int(d[1])};
  for (int64_t r = 0; r < d[1]; ++r)
    for (int64_t c = 0; c < d[0]; ++c) s.values[size_t(r * d[0] + c)] = v[size_t((k * d[1] + (d[1] - 1 - r)) * d[0] + c)];
  return s;
}

Slice coronal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t j) {
  Slice s{std::vector<float>(size_t(d[0] * d[2])), int(d[0]), int(d[2])};
  for (int64_t r = 0; r < d[2]; ++r)
    for (int64_t c = 0; c < d[0]; ++c) s.values[size_t(r * d[0] + c)] = v[size_t(((d[2] - 1 - r) * d[1] + j) * d[0] + c)];
  return s;
}

Slice sagittal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t i) {
  Slice s{std::vector<float>(size_t(d[1] * d[2])), int(d[1]), int(d[2])};
  for (int64_t r = 0; r < d[2]; ++r)
    for (int64_t c = 0; c < d[1]; ++c) s.values[size_t(r * d[1] + c)] = v[size_t(((d[2] - 1 - r) * d[1] + c) * d[0] + i)];
  return s;
}

Slice crop(const Slice& s, int c0, int r0, int cols, int rows) {
  c0 = std::clamp(c0, 0, s.cols - 1);
  r0 = std::clamp(r0, 0, s.rows - 1);
  cols = std::min(cols, s.cols - c0);
  rows = std::min(rows, s.rows - r0);
  Slice out{std::vector<float>(size_t(cols) * size_t(rows)), cols, rows};
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out.values[size_t(r * cols + c)] = s.values[size_t((r0 + r) * s.cols + c0 + c)];
  return out;
}

}  // namespace mdcsrn
