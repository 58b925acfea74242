// Runs on the real Colin27 data prepared by the ctest fixture (mdcsrn prepare --preset colin27).
#include <cstdlib>

#include "io/patch_dataset.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("colin27") {
  TEST_CASE("no admissible training centre, and no drawn patch, reaches the test hemisphere") {
    const char* path = std::getenv("MDCSRN_COLIN27_MANIFEST");
    REQUIRE_MESSAGE(path != nullptr, "MDCSRN_COLIN27_MANIFEST is not set (run through ctest)");
    const Manifest m = Manifest::load(path);
    const Region test = m.subjects.at(0).splits.at("test");
    const Region train = m.subjects.at(0).splits.at("train");
    REQUIRE(test.axis == train.axis);
    for (SamplingMode mode : {SamplingMode::Uniform, SamplingMode::Balanced}) {
      CAPTURE(std::string(sampling_mode_name(mode)));
      SamplerConfig c;
      c.mode = mode;
      c.patch = 32;
      const PatchDataset d(load_split(m, "train", false), c, MemoryKind::Host);
      const SamplerView& v = d.view();
      // Exhaustively: every admissible centre's patch stays out of the test slab.
      const int32_t* crop = v.crop;
      const int64_t dims_axis = test.axis == 0 ? 301 : (test.axis == 1 ? 370 : 316);
      for (const auto& [centres, count] : {std::pair{v.brain_centres, d.brain_candidates()}, std::pair{v.cerebellum_centres, d.cerebellum_candidates()}})
        for (int64_t g = 0; g < count; ++g) {
          const int64_t local = centres[g];
          const int64_t coord[3] = {crop[0] + local % crop[3], crop[1] + local / crop[3] % crop[4], crop[2] + local / (crop[3] * crop[4])};
          const int64_t lo = std::max<int64_t>(0, coord[test.axis] - 16), hi = std::min<int64_t>(dims_axis, coord[test.axis] + 16);
          REQUIRE((hi <= test.begin || lo >= test.end));
        }
      MESSAGE(std::string(sampling_mode_name(mode)) << ": " << d.brain_candidates() << " brain centres, " << d.cerebellum_candidates()
                                       << " cerebellum centres, epoch " << d.epoch_size() << " patches, "
                                       << d.resident_bytes() / (1 << 20) << " MiB resident");
      CHECK(d.cerebellum_candidates() > 100000);
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
