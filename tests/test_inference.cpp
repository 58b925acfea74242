#include "models/inference.h"
#include "models/train_config.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("inference") {
  TEST_CASE("tiles cover every voxel: crop cores tile the volume, Gaussian tiles end at the border") {
    InferenceOptions crop;
    crop.patch = 32;
    crop.margin = 3;
    CHECK(tile_origins(60, crop) == std::vector<int64_t>{-3, 23, 49});  // cores [0,26), [26,52), [52,78)
    InferenceOptions gauss = crop;
    gauss.stitching = Stitching::Gaussian;
    gauss.stride = 16;
    CHECK(tile_origins(60, gauss) == std::vector<int64_t>{0, 16, 28});
    CHECK(tile_origins(20, gauss) == std::vector<int64_t>{0});  // smaller than a patch: zero padding
  }

  TEST_CASE("stitching an identity predictor gives the volume back, in both modes and odd sizes") {
    std::mt19937_64 rng(121);
    const std::array<int64_t, 3> dims{23, 19, 17};
    const std::vector<float> v = random_values<float>(23 * 19 * 17, rng);
    for (Stitching s : {Stitching::MarginCrop, Stitching::Gaussian}) {
      InferenceOptions o;
      o.patch = 8;
      o.margin = 2;
      o.stride = 3;
      o.batch = 5;
      o.stitching = s;
      int64_t calls = 0;
      const std::vector<float> out = stitch_volume(v, dims, o, [&](int64_t count, const float* in, float* result) {
        ++calls;
        std::copy(in, in + count * 512, result);
      });
      CHECK(calls > 1);
      CHECK(relative_error(convert<double>(out), convert<double>(v)) < 1e-6);
    }
  }

  TEST_CASE("the crop mode keeps only tile cores: a predictor that marks margins leaves no mark") {
    const std::array<int64_t, 3> dims{20, 20, 20};
    const std::vector<float> v(8000, 1.f);
    InferenceOptions o;
    o.patch = 10;
    o.margin = 2;
    const std::vector<float> out = stitch_volume(v, dims, o, [&](int64_t count, const float* in, float* result) {
      for (int64_t e = 0; e < count * 1000; ++e) {
        const int64_t x = e % 10, y = e / 10 % 10, z = e / 100 % 10;
        const bool margin = x < 2 || y < 2 || z < 2 || x >= 8 || y >= 8 || z >= 8;
        result[e] = margin ? 100.f : in[e];
      }
    });
    CHECK(*std::max_element(out.begin(), out.end()) == 1.f);
  }

  TEST_CASE("bad options are refused") {
    CHECK_THROWS_WITH_AS(parse_stitching("average"), doctest::Contains("--stitching 'average': expected crop or gaussian"), Error);
    InferenceOptions o;
    o.patch = 6;
    o.margin = 3;
    CHECK_THROWS_WITH_AS(tile_origins(10, o), doctest::Contains("no core"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
