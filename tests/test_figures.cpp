#include <zlib.h>

#include <cstring>

#include "io/figure.h"
#include "io/png.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

uint32_t read_u32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | uint32_t(b[at + 3]);
}

// Walks the PNG's chunks (checking each CRC), inflates the image data and undoes the scanline
// filters (None and Sub, the ones the writer may use): returns the pixels, row-major RGB.
std::vector<uint8_t> decode_png(const std::vector<uint8_t>& png, int& width, int& height) {
  const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(png.size() > 8);
  REQUIRE(std::memcmp(png.data(), signature, 8) == 0);
  std::vector<uint8_t> compressed;
  size_t at = 8;
  bool ended = false;
  while (at < png.size()) {
    const uint32_t length = read_u32(png, at);
    const std::string type(png.begin() + std::ptrdiff_t(at + 4), png.begin() + std::ptrdiff_t(at + 8));
    CHECK(::crc32(0L, png.data() + at + 4, length + 4) == read_u32(png, at + 8 + length));
    if (type == "IHDR") {
      width = int(read_u32(png, at + 8));
      height = int(read_u32(png, at + 12));
      CHECK(png[at + 16] == 8);  // bit depth
      CHECK(png[at + 17] == 2);  // RGB
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), png.begin() + std::ptrdiff_t(at + 8), png.begin() + std::ptrdiff_t(at + 8 + length));
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + length;
  }
  CHECK(ended);
  const size_t row = size_t(width) * 3;
  std::vector<uint8_t> raw((row + 1) * size_t(height));
  uLongf size = uLongf(raw.size());
  REQUIRE(uncompress(raw.data(), &size, compressed.data(), uLong(compressed.size())) == Z_OK);
  REQUIRE(size == raw.size());
  std::vector<uint8_t> pixels;
  for (int y = 0; y < height; ++y) {
    const uint8_t* line = raw.data() + (row + 1) * size_t(y);
    REQUIRE(line[0] <= 1);
    for (size_t x = 0; x < row; ++x) pixels.push_back(uint8_t(line[1 + x] + (line[0] == 1 && x >= 3 ? pixels[pixels.size() - 3] : 0)));
  }
  return pixels;
}

TEST_SUITE("figures") {
  TEST_CASE("a PNG holds the image's pixels") {
    for (const bool noisy : {true, false}) {
      CAPTURE(noisy);
      RgbImage image(200, 150);
      for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = noisy ? uint8_t((i * 7919) % 251) : uint8_t(i / 600);
      int width = 0, height = 0;
      const std::vector<uint8_t> png = encode_png(image);
      CHECK(decode_png(png, width, height) == image.pixels);
      CHECK(width == 200);
      CHECK(height == 150);
      if (!noisy) CHECK(png.size() < image.pixels.size() / 20);  // a flat figure compresses
    }
  }

  TEST_CASE("ticks are round numbers covering the range") {
    CHECK(nice_ticks(0, 1, 5) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
    const std::vector<double> t = nice_ticks(23.1, 26.4, 6);
    REQUIRE(t.size() >= 3);
    CHECK(t.front() >= 23.1);
    CHECK(t.back() <= 26.4);
    CHECK(t == std::vector<double>{24, 25, 26});  // a step of 0.5 would make more than 6 intervals
  }

  TEST_CASE("slices are oriented like a viewer's: superior and anterior up") {
    // A 2x3x4 volume whose value encodes its voxel index.
    const std::array<int64_t, 3> dims{2, 3, 4};
    std::vector<float> v(24);
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t i = 0; i < 2; ++i) v[size_t((k * 3 + j) * 2 + i)] = float(100 * i + 10 * j + k);
    const Slice axial = axial_slice(v, dims, 1), coronal = coronal_slice(v, dims, 2), sagittal = sagittal_slice(v, dims, 1);
    CHECK(axial.cols == 2);
    CHECK(axial.rows == 3);
    CHECK(axial.values[0] == 21.f);      // top-left: i 0, the most anterior j (2), k 1
    CHECK(coronal.values[1] == 123.f);   // top row: the most superior k (3); column 1: i 1
    CHECK(sagittal.values[2] == 123.f);  // top row k 3; columns run along j
    const Slice c = crop(axial, 1, 1, 5, 5);  // clamped to the slice
    CHECK(c.cols == 1);
    CHECK(c.rows == 2);
    CHECK(c.values[0] == 111.f);
  }

  TEST_CASE("a line plot draws its series in their colours") {
    const RgbImage plot = line_plot("t", "x", "y", {{"a", {200, 10, 10}, {0, 1, 2}, {1, 3, 2}}}, 300, 200);
    int red = 0;
    for (size_t p = 0; p < plot.pixels.size(); p += 3) red += plot.pixels[p] == 200 && plot.pixels[p + 1] == 10;
    CHECK(red > 50);
    CHECK_THROWS_AS(line_plot("t", "x", "y", {{"a", {0, 0, 0}, {0}, {NAN}}}), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
