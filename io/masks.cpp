#include "io/masks.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"
#include "engine/parallel.h"

namespace mdcsrn {

Mask nonzero_mask(const Volume& v) {
  Mask m(v.data.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = v.data[i] != 0.f;
  return m;
}

int64_t count(const Mask& m) { return std::count(m.begin(), m.end(), uint8_t(1)); }

CerebellumLabels parse_cerebellum_labels(const std::string& spec) {
  if (spec == "aseg") return {"aseg", {7, 8, 46, 47}, false};
  if (spec == "aal") {
    CerebellumLabels aal{"aal", {}, true};
    for (int l = 91; l <= 116; ++l) aal.labels.push_back(l);
    return aal;
  }
  CerebellumLabels list{"labels", {}, false};
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      list.labels.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("cerebellum labels '" + spec + "': expected aseg, aal or a comma-separated list of integers");
    }
  }
  if (list.labels.empty()) fail("cerebellum labels '" + spec + "': empty list");
  return list;
}

Mask labels_to_mask(const Volume& labels, const CerebellumLabels& which) {
  Mask m(labels.data.size());
  for (size_t i = 0; i < m.size(); ++i) {
    const int label = int(std::lround(labels.data[i]));
    m[i] = std::find(which.labels.begin(), which.labels.end(), label) != which.labels.end();
  }
  if (which.fill_holes) fill_holes(m, labels.dims);
  return m;
}

namespace {

// Flood fill of the background of one 2-D slice from its border; marks enclosed background.
void fill_slice(Mask& mask, const std::array<int64_t, 3>& dims, int axis, int64_t slice, std::vector<uint8_t>& reached,
                std::vector<int64_t>& stack) {
  const int a = (axis + 1) % 3, b = (axis + 2) % 3;
  const int64_t na = dims[size_t(a)], nb = dims[size_t(b)];
  auto voxel = [&](int64_t u, int64_t v) {
    std::array<int64_t, 3> p{};
    p[size_t(axis)] = slice;
    p[size_t(a)] = u;
    p[size_t(b)] = v;
    return p[0] + dims[0] * (p[1] + dims[1] * p[2]);
  };
  std::fill(reached.begin(), reached.begin() + na * nb, uint8_t(0));
  stack.clear();
  auto push = [&](int64_t u, int64_t v) {
    if (u < 0 || v < 0 || u >= na || v >= nb) return;
    const int64_t cell = u + na * v;
    if (reached[size_t(cell)] || mask[size_t(voxel(u, v))]) return;
    reached[size_t(cell)] = 1;
    stack.push_back(cell);
  };
  for (int64_t u = 0; u < na; ++u) push(u, 0), push(u, nb - 1);
  for (int64_t v = 0; v < nb; ++v) push(0, v), push(na - 1, v);
  while (!stack.empty()) {
    const int64_t cell = stack.back();
    stack.pop_back();
    const int64_t u = cell % na, v = cell / na;
    push(u + 1, v), push(u - 1, v), push(u, v + 1), push(u, v - 1);
  }
  for (int64_t v = 0; v < nb; ++v)
    for (int64_t u = 0; u < na; ++u)
      if (!reached[size_t(u + na * v)]) mask[size_t(voxel(u, v))] = 2;  // hole (2 = filled, set to 1 later)
}

}  // namespace

void fill_holes(Mask& mask, const std::array<int64_t, 3>& dims) {
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t largest_slice = std::max({dims[0] * dims[1], dims[1] * dims[2], dims[0] * dims[2]});
    // Slices along one axis are disjoint: fill them in parallel, each thread with its own buffers.
    parallel_for(dims[size_t(axis)], 1, [&](int64_t begin, int64_t end) {
      std::vector<uint8_t> reached(static_cast<size_t>(largest_slice));
      std::vector<int64_t> stack;
      for (int64_t s = begin; s < end; ++s) fill_slice(mask, dims, axis, s, reached, stack);
    });
  }
  for (auto& v : mask) v = v != 0;
}

Volume resample_nearest(const Volume& source, const Volume& target) {
  const Affine to_world = target.voxel_to_world();
  const Affine from_world = [&] {
    // Invert the source's affine (rotation-scale block and translation).
    const Affine a = source.voxel_to_world();
    double m[3][3], inv[3][3];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) m[r][c] = a[size_t(r)][size_t(c)];
    const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                       m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    MDCSRN_REQUIRE(std::fabs(det) > 1e-12, source.source + ": singular voxel-to-world affine");
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        const int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
        inv[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
      }
    Affine out{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) out[size_t(r)][size_t(c)] = inv[r][c];
      out[size_t(r)][3] = -(inv[r][0] * a[0][3] + inv[r][1] * a[1][3] + inv[r][2] * a[2][3]);
    }
    out[3][3] = 1;
    return out;
  }();
  std::vector<float> values(size_t(target.voxels()), 0.f);
  parallel_for(target.dims[2], 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      for (int64_t j = 0; j < target.dims[1]; ++j)
        for (int64_t i = 0; i < target.dims[0]; ++i) {
          double world[3], src[3];
          for (int r = 0; r < 3; ++r)
            world[r] = to_world[size_t(r)][0] * double(i) + to_world[size_t(r)][1] * double(j) + to_world[size_t(r)][2] * double(k) + to_world[size_t(r)][3];
          for (int r = 0; r < 3; ++r)
            src[r] = from_world[size_t(r)][0] * world[0] + from_world[size_t(r)][1] * world[1] + from_world[size_t(r)][2] * world[2] + from_world[size_t(r)][3];
          const int64_t si = std::llround(src[0]), sj = std::llround(src[1]), sk = std::llround(src[2]);
          if (si < 0 || sj < 0 || sk < 0 || si >= source.dims[0] || sj >= source.dims[1] || sk >= source.dims[2]) continue;
          values[size_t(target.index(i, j, k))] = source.at(si, sj, sk);
        }
  });
  return target.like(std::move(values));
}

Volume mask_volume(const Volume& grid, const Mask& m) {
  std::vector<float> values(m.begin(), m.end());
  return grid.like(std::move(values));
}

}  // namespace mdcsrn
