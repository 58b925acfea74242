#include "io/age_grid.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/parallel.h"
#include "io/interpolation.h"

namespace mdcsrn {
namespace {

// The inverse of an affine map x -> A x + t (A invertible): x -> A^-1 (x - t).
Affine inverse(const Affine& m, const std::string& source) {
  const double a = m[0][0], b = m[0][1], c = m[0][2], d = m[1][0], e = m[1][1], f = m[1][2], g = m[2][0], h = m[2][1], k = m[2][2];
  const double det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
  MDCSRN_REQUIRE(std::fabs(det) > 1e-12, source + ": its voxel-to-world affine is singular (a degenerate NIfTI header); it cannot be resampled onto the age grid");
  Affine r{};
  r[0] = {(e * k - f * h) / det, (c * h - b * k) / det, (b * f - c * e) / det, 0};
  r[1] = {(f * g - d * k) / det, (a * k - c * g) / det, (c * d - a * f) / det, 0};
  r[2] = {(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det, 0};
  for (int row = 0; row < 3; ++row)
    r[size_t(row)][3] = -(r[size_t(row)][0] * m[0][3] + r[size_t(row)][1] * m[1][3] + r[size_t(row)][2] * m[2][3]);
  r[3] = {0, 0, 0, 1};
  return r;
}

std::array<double, 3> apply(const Affine& m, double x, double y, double z) {
  return {m[0][0] * x + m[0][1] * y + m[0][2] * z + m[0][3], m[1][0] * x + m[1][1] * y + m[1][2] * z + m[1][3],
          m[2][0] * x + m[2][1] * y + m[2][2] * z + m[2][3]};
}

// World position of grid voxel 0: the box is centred on the field of view's centre.
std::array<double, 3> grid_origin(const Volume& v, const AgeGrid& g) {
  const std::array<double, 3> centre =
      apply(v.voxel_to_world(), double(v.dims[0] - 1) / 2, double(v.dims[1] - 1) / 2, double(v.dims[2] - 1) / 2);
  std::array<double, 3> origin{};
  for (size_t a = 0; a < 3; ++a) origin[a] = centre[a] - g.spacing * double(g.size[a] - 1) / 2;
  return origin;
}

}  // namespace

std::string AgeGrid::describe() const {
  char text[160];
  std::snprintf(text, sizeof text, "%lldx%lldx%lld voxels of %g mm", (long long)size[0], (long long)size[1], (long long)size[2], spacing);
  return text;
}

void check_age_geometry(const Volume& v) { inverse(v.voxel_to_world(), v.source); }

std::vector<float> resample_for_age(const Volume& v, const AgeGrid& g) {
  MDCSRN_REQUIRE(g.spacing > 0 && g.size[0] > 0 && g.size[1] > 0 && g.size[2] > 0, "grid.spacing and grid.size: " + g.describe() + "; the spacing and every voxel count must be positive, e.g. 2 mm and 96x112x96");
  const Affine to_voxel = inverse(v.voxel_to_world(), v.source);
  const std::array<double, 3> origin = grid_origin(v, g);
  std::vector<float> out(size_t(g.voxels()));
  parallel_for(g.size[2], 1, [&](int64_t begin, int64_t end) {
    for (int64_t z = begin; z < end; ++z)
      for (int64_t y = 0; y < g.size[1]; ++y)
        for (int64_t x = 0; x < g.size[0]; ++x) {
          const std::array<double, 3> p =
              apply(to_voxel, origin[0] + g.spacing * double(x), origin[1] + g.spacing * double(y), origin[2] + g.spacing * double(z));
          out[size_t((z * g.size[1] + y) * g.size[0] + x)] = trilinear(v, p, Outside::Zero);
        }
  });
  std::vector<float> positive;
  for (float value : out)
    if (value > 0) positive.push_back(value);
  if (positive.empty()) fail(v.source + ": no positive voxel inside the age grid's box (" + g.describe() + ")");
  const size_t rank = std::min(positive.size() - 1, size_t(0.995 * double(positive.size())));
  std::nth_element(positive.begin(), positive.begin() + ptrdiff_t(rank), positive.end());
  const float scale = positive[rank];
  for (float& value : out) value /= scale;
  return out;
}

Volume age_grid_volume(const Volume& v, const AgeGrid& g, std::vector<float> values) {
  MDCSRN_ASSERT(int64_t(values.size()) == g.voxels(), "age grid: wrong number of voxels");
  Volume out = new_volume(g.size, {g.spacing, g.spacing, g.spacing}, grid_origin(v, g));
  out.data = std::move(values);
  return out;
}

}  // namespace mdcsrn
