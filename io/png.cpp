#include "io/png.h"

#include <zlib.h>

#include "engine/error.h"
#include "io/volume.h"

namespace mdcsrn {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, uint32_t(::crc32(0L, out.data() + start, uInt(out.size() - start))));
}

}  // namespace

std::vector<uint8_t> encode_png(const RgbImage& image) {
  MDCSRN_REQUIRE(image.width > 0 && image.height > 0 && image.pixels.size() == size_t(image.width) * size_t(image.height) * 3,
                 "png: the image is empty or its pixel buffer has the wrong size");
  // Scanlines with PNG's Sub filter (each byte minus the same channel of the pixel to its left):
  // flat backgrounds and smooth slices become runs of zeros and small values, which deflate well.
  const size_t row = size_t(image.width) * 3;
  std::vector<uint8_t> raw;
  raw.reserve((row + 1) * size_t(image.height));
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* line = image.pixels.data() + row * size_t(y);
    raw.push_back(1);
    for (size_t x = 0; x < row; ++x) raw.push_back(uint8_t(line[x] - (x >= 3 ? line[x - 3] : 0)));
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::vector<uint8_t> z(size);
  if (compress2(z.data(), &size, raw.data(), uLong(raw.size()), 6) != Z_OK) fail("png: zlib could not compress the image");
  z.resize(size);

  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  put_u32(header, uint32_t(image.width));
  put_u32(header, uint32_t(image.height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8 bits, RGB, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

void write_png(const RgbImage& image, const std::string& path) {
  const std::vector<uint8_t> bytes = encode_png(image);
  write_text_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace mdcsrn
