#pragma once
// PNG output for the report figures: 8-bit RGB, Sub-filtered scanlines deflated by zlib (already
// a dependency through nifticlib's .nii.gz support), written atomically.
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

}  // namespace mdcsrn
