#include "io/masks.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("masks") {
  TEST_CASE("label presets and explicit lists") {
    CHECK(parse_cerebellum_labels("aseg").labels == std::vector<int>{7, 8, 46, 47});
    const CerebellumLabels aal = parse_cerebellum_labels("aal");
    CHECK(aal.labels.size() == 26);
    CHECK(aal.labels.front() == 91);
    CHECK(aal.labels.back() == 116);
    CHECK(aal.fill_holes);
    CHECK(parse_cerebellum_labels("7,46").labels == std::vector<int>{7, 46});
    CHECK_THROWS_WITH_AS(parse_cerebellum_labels("7,x"), doctest::Contains("expected aseg, aal or a comma-separated list"), Error);

    Volume labels = new_volume({4, 4, 4}, {1, 1, 1}, {0, 0, 0});
    labels.at(1, 1, 1) = 8, labels.at(2, 1, 1) = 16, labels.at(3, 3, 3) = 47;  // 16 is brain stem: excluded
    const Mask m = labels_to_mask(labels, parse_cerebellum_labels("aseg"));
    CHECK(count(m) == 2);
    CHECK(m[size_t(labels.index(1, 1, 1))] == 1);
    CHECK(m[size_t(labels.index(2, 1, 1))] == 0);
  }

  TEST_CASE("hole filling closes enclosed cavities and leaves open space alone") {
    const std::array<int64_t, 3> dims{20, 20, 20};
    Mask shell(8000), plates(8000);
    for (int64_t k = 0; k < 20; ++k)
      for (int64_t j = 0; j < 20; ++j)
        for (int64_t i = 0; i < 20; ++i) {
          const int64_t v = i + 20 * (j + 20 * k);
          shell[size_t(v)] = std::max({std::abs(i - 10), std::abs(j - 10), std::abs(k - 10)}) == 6;
          plates[size_t(v)] = (i == 4 || i == 16) && j > 2 && j < 17;  // no slice encloses anything
        }
    fill_holes(shell, dims);
    CHECK(count(shell) == 13 * 13 * 13);  // the hollow cube becomes solid
    const Mask before = plates;
    fill_holes(plates, dims);
    CHECK(plates == before);
  }

  TEST_CASE("nearest-neighbour resampling through the affines") {
    // A 1 mm label grid and a 0.5 mm target grid over the same world box.
    Volume coarse = new_volume({10, 10, 10}, {1, 1, 1}, {0, 0, 0});
    for (int64_t k = 0; k < 10; ++k)
      for (int64_t j = 0; j < 10; ++j)
        for (int64_t i = 0; i < 10; ++i) coarse.at(i, j, k) = float(i + 10 * j + 100 * k);
    const Volume fine = new_volume({20, 20, 20}, {0.5, 0.5, 0.5}, {0.25, 0.25, 0.25});
    const Volume r = resample_nearest(coarse, fine);
    // Fine voxel (5, 8, 13) sits at world (2.75, 4.25, 6.75): nearest coarse voxel (3, 4, 7).
    CHECK(r.at(5, 8, 13) == coarse.at(3, 4, 7));
    CHECK(r.at(0, 0, 0) == coarse.at(0, 0, 0));
    CHECK(r.at(18, 18, 18) == coarse.at(9, 9, 9));
    CHECK(r.at(19, 19, 19) == 0.f);  // world 9.75: past the coarse grid's last voxel centre by more than half a voxel
    CHECK_NOTHROW(require_same_grid(fine, r, "resampled"));
  }
}

}  // namespace
}  // namespace mdcsrn::test
