#include "tests/io_support.h"

#include "io/prepare.h"

#include <unistd.h>

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
  std::uniform_real_distribution<double> phase(0, 6.28);
  const double a = phase(rng), b = phase(rng), c = phase(rng);
  struct Sphere {
    double i, j, k, radius, offset;
  };
  std::vector<Sphere> spheres;
  if (kind == PhantomTexture::Spheres) {
    std::uniform_real_distribution<double> unit(0, 1);
    const int64_t count = ni * nj * nk / 1500;
    for (int64_t s = 0; s < count; ++s)
      spheres.push_back({unit(rng) * double(ni), unit(rng) * double(nj), unit(rng) * double(nk), 3.0 + 5.0 * unit(rng), unit(rng) - 0.5});
  }
  for (int64_t k = 0; k < nk; ++k)
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t i = 0; i < ni; ++i) {
        const double x = (double(i) - ni / 2.0) / (0.42 * ni), y = (double(j) - nj / 2.0) / (0.42 * nj), z = (double(k) - nk / 2.0) / (0.42 * nk);
        if (x * x + y * y + z * z > 1) continue;
        const double cx = x / 0.5, cy = (y + 0.55) / 0.35, cz = (z + 0.5) / 0.35;
        const bool cerebellum = cx * cx + cy * cy + cz * cz <= 1;
        double texture = cerebellum ? 0.25 * std::sin(1.3 * double(j) + a) * std::sin(1.1 * double(k) + b)
                                    : 0.15 * std::sin(0.4 * double(i) + c) * std::cos(0.3 * double(j) + a);
        if (kind == PhantomTexture::Spheres) {
          texture = cerebellum ? 0.2 : 0.0;
          for (const Sphere& s : spheres) {
            const double di = double(i) - s.i, dj = double(j) - s.j, dk = double(k) - s.k;
            if (di * di + dj * dj + dk * dk <= s.radius * s.radius) texture = s.offset;
          }
        }
        p.hr.at(i, j, k) = float(100 * (0.6 + texture));
        p.labels.at(i, j, k) = cerebellum ? 8.f : 3.f;
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

}  // namespace mdcsrn::test
