#pragma once
// The report figures, drawn with cairo: grey-level volume slices in labelled grids, and line and
// scatter plots with axes, ticks and a legend. Lines are antialiased and text is DejaVu Sans
// (Debian's fonts-dejavu-core, found through fontconfig). Every figure is written twice: a PNG
// for the Markdown report (one pixel per unit) and a PDF for papers (one point per unit).
// cairo is optional at configure time (the lent GPU machines lack it): without it
// figures_enabled() is false, callers say that the figures are off, and rendering one throws.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/slice.h"

struct _cairo;  // cairo_t, kept out of this header

namespace mdcsrn {

using Rgb = std::array<uint8_t, 3>;

// Whether this build draws figures (found cairo); "figures: off (built without cairo)" otherwise.
bool figures_enabled();

class Figure {
 public:
  using Draw = std::function<void(_cairo*)>;
  // `draw` paints on a white width x height page; it runs once per output format.
  Figure(int width, int height, Draw draw);
  int width() const { return width_; }
  int height() const { return height_; }
  // Writes stem.png and stem.pdf, each to a temporary file renamed into place.
  void write(const std::string& stem) const;
  std::string png() const;  // the PNG file's bytes
  std::string pdf() const;  // the PDF file's bytes

 private:
  int width_, height_;
  Draw draw_;
};

// A grid of slices: one row per entry of row_labels, one column per entry of column_labels;
// panels[r][c] is drawn with the grey window [lo, hi], each voxel as zoom x zoom units.
Figure slice_grid(const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                  std::vector<std::vector<Slice>> panels, float lo, float hi, int zoom, const std::string& title);

struct Series {
  std::string name;
  Rgb color;
  std::vector<double> x, y;
  bool dashed = false;
  bool markers = false;  // points as dots instead of joined by lines (a scatter plot)
};

// A plot of the series with linear axes fitted to the data, tick labels and a legend; throws
// when no series has a finite point.
Figure line_plot(const std::string& title, const std::string& x_label, const std::string& y_label, std::vector<Series> series,
                 int width = 900, int height = 520);

// Tick positions covering [lo, hi] at a step of 1, 2 or 5 times a power of ten (about `target` ticks).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace mdcsrn
