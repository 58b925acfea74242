#pragma once
// Temporary folders and synthetic volumes for the I/O and data-pipeline tests.
#include <filesystem>
#include <string>

#include "io/volume.h"

namespace mdcsrn::test {

// A fresh folder under the system temp directory, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  std::string path(const std::string& file) const { return (root_ / file).string(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// A synthetic "head": an ellipsoid brain with a denser "cerebellum" blob in its lower back, on a
// 1 mm grid centred on the world origin (so x < 0 is the left half). Its texture is smooth sine
// waves, or piecewise-constant spheres at three intensity levels (like tissue classes) whose sharp
// edges k-space truncation blurs and rings: a structure a network can learn to restore, for the
// end-to-end training tests.
enum class PhantomTexture { Smooth, Spheres };
struct Phantom {
  Volume hr, labels;  // labels: 0 background, 3 cerebrum, 8 cerebellum (an aseg label)
};
Phantom make_phantom(int64_t ni, int64_t nj, int64_t nk, uint64_t seed, PhantomTexture texture = PhantomTexture::Smooth);

// The phantom prepared like a real subject (mdcsrn prepare) into dir/data; returns the manifest.
std::string make_phantom_dataset(const TempDir& dir, int64_t ni = 48, int64_t nj = 40, int64_t nk = 36,
                                 PhantomTexture texture = PhantomTexture::Smooth);

// `subjects` phantoms of different seeds, each prepared into dir/cohort, all of them wholly in the
// split "test" (a multi-subject dataset split by subject); returns the manifest.
std::string make_phantom_cohort(const TempDir& dir, int subjects, int64_t ni = 24, int64_t nj = 20, int64_t nk = 18);

}  // namespace mdcsrn::test
