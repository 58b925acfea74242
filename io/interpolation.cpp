#include "io/interpolation.h"

#include <algorithm>

namespace mdcsrn {

float trilinear(const Volume& v, const std::array<double, 3>& voxel, Outside outside) {
  std::array<int64_t, 3> base{};
  std::array<double, 3> frac{};
  for (size_t a = 0; a < 3; ++a) {
    const double last = double(v.dims[a] - 1);
    if (outside == Outside::Zero && (voxel[a] < 0 || voxel[a] > last)) return 0.f;
    const double p = std::clamp(voxel[a], 0.0, last);
    base[a] = std::min(int64_t(p), std::max<int64_t>(v.dims[a] - 2, 0));
    frac[a] = p - double(base[a]);
  }
  double sum = 0;
  for (int corner = 0; corner < 8; ++corner) {
    double weight = 1;
    std::array<int64_t, 3> at{};
    for (size_t a = 0; a < 3; ++a) {
      const bool upper = (corner >> a) & 1;
      at[a] = std::min(base[a] + (upper ? 1 : 0), v.dims[a] - 1);
      weight *= upper ? frac[a] : 1 - frac[a];
    }
    if (weight != 0) sum += weight * double(v.at(at[0], at[1], at[2]));
  }
  return float(sum);
}

}  // namespace mdcsrn
