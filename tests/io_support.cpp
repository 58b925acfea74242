#include "tests/io_support.h"

#include "io/prepare.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mdcsrn::test {

TempDir::TempDir(const std::string& name)
    : root_(std::filesystem::temp_directory_path() / ("mdcsrn-test-" + name + "-" + std::to_string(getpid()))) {
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

Phantom make_phantom(int64_t ni, int64_t nj, int64_t nk, uint64_t seed, PhantomTexture kind) {
  const std::array<double, 3> origin{-double(ni - 1) / 2, -double(nj - 1) / 2, -double(nk - 1) / 2};
  Phantom p{new_volume({ni, nj, nk}, {1, 1, 1}, origin), new_volume({ni, nj, nk}, {1, 1, 1}, origin)};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0, 6.28), unit(0, 1);
  const double a = phase(rng), b = phase(rng), c = phase(rng);
  std::vector<double> texture(size_t(ni * nj * nk), 0.0);
  std::vector<bool> cerebellum(texture.size(), false);
  for (int64_t k = 0; k < nk; ++k)
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t i = 0; i < ni; ++i) {
        const double x = (double(i) - ni / 2.0) / (0.42 * ni), y = (double(j) - nj / 2.0) / (0.42 * nj), z = (double(k) - nk / 2.0) / (0.42 * nk);
        const double cx = x / 0.5, cy = (y + 0.55) / 0.35, cz = (z + 0.5) / 0.35;
        const size_t v = size_t(p.hr.index(i, j, k));
        cerebellum[v] = cx * cx + cy * cy + cz * cz <= 1;
        if (kind == PhantomTexture::Smooth)
          texture[v] = cerebellum[v] ? 0.25 * std::sin(1.3 * double(j) + a) * std::sin(1.1 * double(k) + b)
                                     : 0.15 * std::sin(0.4 * double(i) + c) * std::cos(0.3 * double(j) + a);
        else
          texture[v] = cerebellum[v] ? 0.2 : 0.0;
      }
  if (kind == PhantomTexture::Spheres) {
    // Spheres at three levels, like tissue classes, painted over their bounding boxes; later ones on top.
    const int64_t count = ni * nj * nk / 1500;
    for (int64_t s = 0; s < count; ++s) {
      const double ci = unit(rng) * double(ni), cj = unit(rng) * double(nj), ck = unit(rng) * double(nk), radius = 3.0 + 5.0 * unit(rng);
      const double level = 0.3 * double(int(unit(rng) * 3) - 1);
      const auto lo = [&](double centre) { return std::max<int64_t>(0, int64_t(std::floor(centre - radius))); };
      const auto hi = [&](double centre, int64_t n) { return std::min<int64_t>(n, int64_t(std::ceil(centre + radius)) + 1); };
      for (int64_t k = lo(ck); k < hi(ck, nk); ++k)
        for (int64_t j = lo(cj); j < hi(cj, nj); ++j)
          for (int64_t i = lo(ci); i < hi(ci, ni); ++i) {
            const double di = double(i) - ci, dj = double(j) - cj, dk = double(k) - ck;
            if (di * di + dj * dj + dk * dk <= radius * radius) texture[size_t(p.hr.index(i, j, k))] = level;
          }
    }
  }
  for (int64_t k = 0; k < nk; ++k)
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t i = 0; i < ni; ++i) {
        const double x = (double(i) - ni / 2.0) / (0.42 * ni), y = (double(j) - nj / 2.0) / (0.42 * nj), z = (double(k) - nk / 2.0) / (0.42 * nk);
        if (x * x + y * y + z * z > 1) continue;
        const size_t v = size_t(p.hr.index(i, j, k));
        p.hr.at(i, j, k) = float(100 * (0.6 + texture[v]));
        p.labels.at(i, j, k) = cerebellum[v] ? 8.f : 3.f;
      }
  return p;
}

std::string make_phantom_dataset(const TempDir& dir, int64_t ni, int64_t nj, int64_t nk, PhantomTexture texture) {
  const Phantom p = make_phantom(ni, nj, nk, 3, texture);
  write_volume(p.hr, dir.path("phantom_hr.nii.gz"));
  write_volume(p.labels, dir.path("phantom_labels.nii.gz"));
  PrepareOptions o;
  o.id = "phantom";
  o.hr = dir.path("phantom_hr.nii.gz");
  o.labels = dir.path("phantom_labels.nii.gz");
  o.out_dir = dir.path("data/phantom");
  const PreparedSubject s = prepare_subject(o, dir.path("data"), nullptr);
  Manifest m;
  m.dataset = "phantom";
  m.subjects.push_back(s.entry);
  m.subjects[0].splits = hemisphere_split(s);
  m.save(dir.path("data/manifest.json"));
  return dir.path("data/manifest.json");
}

std::string make_phantom_cohort(const TempDir& dir, int subjects, int64_t ni, int64_t nj, int64_t nk) {
  Manifest m;
  m.dataset = "phantom cohort";
  for (int k = 0; k < subjects; ++k) {
    const std::string id = "sub" + std::to_string(k + 1);
    const Phantom p = make_phantom(ni, nj, nk, 10 + uint64_t(k));
    write_volume(p.hr, dir.path(id + "_hr.nii.gz"));
    write_volume(p.labels, dir.path(id + "_labels.nii.gz"));
    PrepareOptions o;
    o.id = id;
    o.hr = dir.path(id + "_hr.nii.gz");
    o.labels = dir.path(id + "_labels.nii.gz");
    o.out_dir = dir.path("cohort/" + id);
    m.subjects.push_back(prepare_subject(o, dir.path("cohort"), nullptr).entry);
    m.subjects.back().splits = {{"test", Region{}}};
  }
  m.save(dir.path("cohort/manifest.json"));
  return dir.path("cohort/manifest.json");
}

}  // namespace mdcsrn::test
