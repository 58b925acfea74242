#pragma once
// PNG output for the report figures: 8-bit RGB, written atomically. The image data is stored in
// uncompressed deflate blocks, so no compression library is needed; figures are small.
#include <cstdint>
#include <string>
#include <vector>

namespace mdcsrn {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel

  RgbImage() = default;
  RgbImage(int w, int h, uint8_t fill = 255) : width(w), height(h), pixels(size_t(w) * size_t(h) * 3, fill) {}
  uint8_t* at(int x, int y) { return pixels.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
};

// The PNG file's bytes.
std::vector<uint8_t> encode_png(const RgbImage& image);
void write_png(const RgbImage& image, const std::string& path);

// CRC-32 (ISO 3309, as PNG chunks use) and Adler-32 (zlib streams).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
uint32_t adler32(const uint8_t* data, size_t size, uint32_t adler = 1);

}  // namespace mdcsrn
