#include <nifti2_io.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "io/volume.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

namespace fs = std::filesystem;

// Writes a file with nifticlib directly, in a given voxel type, scaling and format.
template <class T>
void write_raw(const std::string& path, int datatype, const std::vector<T>& values, std::array<int64_t, 4> dims,
               double slope = 0, double inter = 0, int nifti_type = NIFTI_FTYPE_NIFTI1_1) {
  const int64_t d[8] = {dims[3] > 1 ? 4 : 3, dims[0], dims[1], dims[2], dims[3], 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(d, datatype, 0);
  REQUIRE(nim);
  nim->nifti_type = nifti_type;
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  nim->qform_code = 1;
  nim->pixdim[1] = 0.7, nim->pixdim[2] = 0.8, nim->pixdim[3] = 0.9;
  nim->dx = 0.7, nim->dy = 0.8, nim->dz = 0.9;
  nim->qoffset_x = -10, nim->qoffset_y = 5, nim->qoffset_z = 2;
  nim->qto_xyz = nifti_quatern_to_dmat44(0, 0, 0, -10, 5, 2, 0.7, 0.8, 0.9, 1);
  REQUIRE(nifti_set_filenames(nim, path.c_str(), 0, 1) == 0);
  nim->data = const_cast<T*>(values.data());
  nifti_image_write(nim);
  nim->data = nullptr;
  nifti_image_free(nim);
}

TEST_SUITE("nifti") {
  TEST_CASE("every supported voxel type reads as float, with scl_slope and scl_inter applied") {
    TempDir dir("types");
    const std::array<int64_t, 4> dims{4, 3, 2, 1};
    std::vector<uint8_t> u8(24);
    std::vector<int16_t> i16(24);
    std::vector<uint16_t> u16(24);
    std::vector<int32_t> i32(24);
    std::vector<double> f64(24);
    for (int v = 0; v < 24; ++v) u8[size_t(v)] = uint8_t(v * 10), i16[size_t(v)] = int16_t(v * 100 - 1000),
                                 u16[size_t(v)] = uint16_t(v * 2000), i32[size_t(v)] = v * 100000 - 7,
                                 f64[size_t(v)] = v * 0.125 - 1;
    write_raw(dir.path("u8.nii.gz"), DT_UINT8, u8, dims, 0.5, 1.0);
    write_raw(dir.path("i16.nii"), DT_INT16, i16, dims);
    write_raw(dir.path("u16.nii.gz"), DT_UINT16, u16, dims, 0.0, 3.0);  // slope 0: no scaling at all
    write_raw(dir.path("i32.nii"), DT_INT32, i32, dims, 2.0, 0.0);
    write_raw(dir.path("f64.nii.gz"), DT_FLOAT64, f64, dims, 0, 0, NIFTI_FTYPE_NIFTI2_1);
    const Volume a = read_volume(dir.path("u8.nii.gz")), b = read_volume(dir.path("i16.nii")),
                 c = read_volume(dir.path("u16.nii.gz")), d = read_volume(dir.path("i32.nii")),
                 e = read_volume(dir.path("f64.nii.gz"));
    CHECK(a.dims == std::array<int64_t, 3>{4, 3, 2});
    for (int v = 0; v < 24; ++v) {
      CHECK(a.data[size_t(v)] == float(u8[size_t(v)] * 0.5 + 1.0));
      CHECK(b.data[size_t(v)] == float(i16[size_t(v)]));
      CHECK(c.data[size_t(v)] == float(u16[size_t(v)]));
      CHECK(d.data[size_t(v)] == float(i32[size_t(v)] * 2.0));
      CHECK(e.data[size_t(v)] == float(f64[size_t(v)]));
    }
    CHECK(a.voxel_size()[1] == doctest::Approx(0.8));
    CHECK(e.voxel_to_world()[0][3] == doctest::Approx(-10));
  }

  TEST_CASE("written volumes keep the input's grid and geometry") {
    TempDir dir("roundtrip");
    write_raw(dir.path("in.nii.gz"), DT_INT16, std::vector<int16_t>(60, 7), {5, 4, 3, 1});
    const Volume in = read_volume(dir.path("in.nii.gz"));
    std::vector<float> values(60);
    for (int v = 0; v < 60; ++v) values[size_t(v)] = float(v) / 7.f;
    write_volume(in.like(values), dir.path("out.nii.gz"), "test");
    const Volume out = read_volume(dir.path("out.nii.gz"));
    CHECK(out.data == values);
    CHECK_NOTHROW(require_same_grid(in, out, "out"));
    // No temporary file is left behind.
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir.root())) files += entry.is_regular_file();
    CHECK(files == 2);
  }

  TEST_CASE("bad files give one-line errors that name the file") {
    TempDir dir("bad");
    CHECK_THROWS_WITH_AS(read_volume(dir.path("missing.nii.gz")), doctest::Contains("missing.nii.gz: no such file"), Error);

    write_raw(dir.path("full.nii"), DT_FLOAT32, std::vector<float>(1000, 1.f), {10, 10, 10, 1});
    fs::copy_file(dir.path("full.nii"), dir.path("short.nii"));
    fs::resize_file(dir.path("short.nii"), 352 + 2000);
    CHECK_THROWS_WITH_AS(read_volume(dir.path("short.nii")), doctest::Contains("short.nii: "), Error);

    std::ofstream(dir.path("junk.nii.gz")) << "this is not a NIfTI file at all, just some text padding it out past 348 bytes"
                                           << std::string(400, 'x');
    CHECK_THROWS_WITH_AS(read_volume(dir.path("junk.nii.gz")), doctest::Contains("junk.nii.gz: not a readable NIfTI file"), Error);

    write_raw(dir.path("two.nii.gz"), DT_FLOAT32, std::vector<float>(2000, 1.f), {10, 10, 10, 2});
    CHECK_THROWS_WITH_AS(read_volume(dir.path("two.nii.gz")), doctest::Contains("two.nii.gz: holds 2 volumes"), Error);

    write_raw(dir.path("flat.nii.gz"), DT_FLOAT32, std::vector<float>(100, 1.f), {10, 10, 1, 1});
    CHECK_THROWS_WITH_AS(read_volume(dir.path("flat.nii.gz")), doctest::Contains("flat.nii.gz: not a 3-D volume"), Error);

    std::vector<float> with_nan(1000, 1.f);
    with_nan[123] = std::nanf("");
    write_raw(dir.path("nan.nii.gz"), DT_FLOAT32, with_nan, {10, 10, 10, 1});
    CHECK_THROWS_WITH_AS(read_volume(dir.path("nan.nii.gz")), doctest::Contains("nan.nii.gz: voxel (3, 2, 1) is NaN or infinite"), Error);

    // The header alone: a cut file is refused, whether compressed or not; one of two gzip members
    // (which some tools write) is read through and passes.
    CHECK_THROWS_WITH_AS(read_volume_header(dir.path("short.nii")), doctest::Contains("short.nii: truncated: 2352 bytes, its header describes 4352"),
                         Error);
    std::vector<float> noise(1000);  // incompressible, so that the cut below leaves the header whole
    for (size_t i = 0; i < noise.size(); ++i) noise[i] = float((i * 2654435761u) % 1000003) / 1000003.f;
    write_raw(dir.path("full.nii.gz"), DT_FLOAT32, noise, {10, 10, 10, 1});
    CHECK(read_volume_header(dir.path("full.nii.gz")).dims == std::array<int64_t, 3>{10, 10, 10});
    fs::copy_file(dir.path("full.nii.gz"), dir.path("cut.nii.gz"));
    fs::resize_file(dir.path("cut.nii.gz"), fs::file_size(dir.path("full.nii.gz")) - 40);
    CHECK_THROWS_WITH_AS(read_volume_header(dir.path("cut.nii.gz")), doctest::Contains("cut.nii.gz: not a readable NIfTI file"), Error);
    std::ifstream raw(dir.path("full.nii"), std::ios::binary);
    const std::string bytes(std::istreambuf_iterator<char>(raw), {});
    for (const std::string& member : {bytes.substr(0, 1000), bytes.substr(1000)}) {
      gzFile out = gzopen(dir.path("members.nii.gz").c_str(), "ab");
      REQUIRE(out != nullptr);
      gzwrite(out, member.data(), unsigned(member.size()));
      gzclose(out);
    }
    CHECK(read_volume_header(dir.path("members.nii.gz")).dims == std::array<int64_t, 3>{10, 10, 10});

    const Volume good = read_volume(dir.path("full.nii"));
    CHECK_THROWS_WITH_AS(write_volume(good, dir.path("no/such/folder/out.nii.gz")), doctest::Contains("out.nii.gz: could not be written"), Error);
  }

  TEST_CASE("grids must match in size and placement") {
    const Volume a = new_volume({8, 8, 8}, {1, 1, 1}, {0, 0, 0});
    const Volume shifted = new_volume({8, 8, 8}, {1, 1, 1}, {0.5, 0, 0});
    const Volume bigger = new_volume({8, 8, 9}, {1, 1, 1}, {0, 0, 0});
    CHECK_NOTHROW(require_same_grid(a, new_volume({8, 8, 8}, {1, 1, 1}, {0, 0, 0}), "same"));
    CHECK_THROWS_WITH_AS(require_same_grid(a, shifted, "mask.nii.gz"), doctest::Contains("mask.nii.gz: voxel-to-world affine differs"), Error);
    CHECK_THROWS_WITH_AS(require_same_grid(a, bigger, "mask.nii.gz"), doctest::Contains("mask.nii.gz: grid 8x8x9 does not match"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
