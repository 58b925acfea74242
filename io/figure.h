#pragma once
// Drawing for the report figures: grey-level volume slices laid out in labelled grids, and line
// plots with axes, ticks and a legend. Text uses a built-in 5x7 pixel font (upper-case letters,
// digits and common signs), so figures need no font or plotting library.
#include <array>
#include <string>
#include <vector>

#include "io/png.h"

namespace mdcsrn {

using Rgb = std::array<uint8_t, 3>;

class Canvas {
 public:
  Canvas(int width, int height) : image_(width, height) {}
  const RgbImage& image() const { return image_; }
  int width() const { return image_.width; }
  int height() const { return image_.height; }

  void fill_rect(int x, int y, int w, int h, Rgb color);
  void line(double x0, double y0, double x1, double y1, Rgb color, bool dashed = false);
  // Text with its top-left corner at (x, y), each font pixel drawn as scale x scale.
  void text(int x, int y, const std::string& s, int scale = 2, Rgb color = {0, 0, 0});
  static int text_width(const std::string& s, int scale = 2) { return int(s.size()) * 6 * scale; }
  static int text_height(int scale = 2) { return 7 * scale; }
  // A grey-level image (row-major, values mapped linearly from [lo, hi] to black..white, clamped),
  // enlarged by `zoom` (nearest neighbour) with its top-left corner at (x, y).
  void grey(int x, int y, const std::vector<float>& values, int w, int h, float lo, float hi, int zoom);

 private:
  void set(int x, int y, Rgb c);
  RgbImage image_;
};

// A 2-D slice of a volume: rows x cols values, row-major (voxels are drawn square).
struct Slice {
  std::vector<float> values;
  int cols = 0, rows = 0;
};

// Voxel-axis slices through (i, j, k) of an [n0, n1, n2] volume stored with axis 0 fastest, each
// shown the way radiological viewers do for an RAS-oriented volume (superior/anterior up):
// axial = fixed axis 2, coronal = fixed axis 1, sagittal = fixed axis 0.
Slice axial_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t k);
Slice coronal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t j);
Slice sagittal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& dims, int64_t i);
// The window [c0, c0 + cols) x [r0, r0 + rows) of a slice (clamped to it).
Slice crop(const Slice& s, int c0, int r0, int cols, int rows);

// A grid of slices: one row per entry of row_labels, one column per entry of column_labels;
// panels[r][c] is drawn with the grey window [lo, hi].
RgbImage slice_grid(const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                    const std::vector<std::vector<Slice>>& panels, float lo, float hi, int zoom, const std::string& title);

struct Series {
  std::string name;
  Rgb color;
  std::vector<double> x, y;
  bool dashed = false;
  bool markers = false;  // points as small squares instead of joined by lines (a scatter plot)
};

// A line plot of the series with linear axes fitted to the data, tick labels and a legend.
RgbImage line_plot(const std::string& title, const std::string& x_label, const std::string& y_label, const std::vector<Series>& series,
                   int width = 900, int height = 520);

// Tick positions covering [lo, hi] at a step of 1, 2 or 5 times a power of ten (about `target` ticks).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace mdcsrn
