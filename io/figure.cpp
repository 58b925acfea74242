#include "io/figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "engine/error.h"

namespace mdcsrn {
namespace {

// 5x7 glyphs, one string of 7 rows of 5 pixels each ('#' = ink). Lower-case text is drawn in
// upper case; characters without a glyph are drawn as '?'.
const std::map<char, const char*>& glyphs() {
  static const std::map<char, const char*> g = {
      {' ', ".....|.....|.....|.....|.....|.....|....."}, {'0', ".###.|#...#|#..##|#.#.#|##..#|#...#|.###."},
      {'1', "..#..|.##..|..#..|..#..|..#..|..#..|.###."}, {'2', ".###.|#...#|....#|...#.|..#..|.#...|#####"},
      {'3', "####.|....#|....#|.###.|....#|....#|####."}, {'4', "...#.|..##.|.#.#.|#..#.|#####|...#.|...#."},
      {'5', "#####|#....|####.|....#|....#|#...#|.###."}, {'6', "..##.|.#...|#....|####.|#...#|#...#|.###."},
      {'7', "#####|....#|...#.|..#..|.#...|.#...|.#..."}, {'8', ".###.|#...#|#...#|.###.|#...#|#...#|.###."},
      {'9', ".###.|#...#|#...#|.####|....#|...#.|.##.."}, {'A', ".###.|#...#|#...#|#####|#...#|#...#|#...#"},
      {'B', "####.|#...#|#...#|####.|#...#|#...#|####."}, {'C', ".###.|#...#|#....|#....|#....|#...#|.###."},
      {'D', "###..|#..#.|#...#|#...#|#...#|#..#.|###.."}, {'E', "#####|#....|#....|####.|#....|#....|#####"},
      {'F', "#####|#....|#....|####.|#....|#....|#...."}, {'G', ".###.|#...#|#....|#.###|#...#|#...#|.####"},
      {'H', "#...#|#...#|#...#|#####|#...#|#...#|#...#"}, {'I', ".###.|..#..|..#..|..#..|..#..|..#..|.###."},
      {'J', "..###|...#.|...#.|...#.|...#.|#..#.|.##.."}, {'K', "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#"},
      {'L', "#....|#....|#....|#....|#....|#....|#####"}, {'M', "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#"},
      {'N', "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#"}, {'O', ".###.|#...#|#...#|#...#|#...#|#...#|.###."},
      {'P', "####.|#...#|#...#|####.|#....|#....|#...."}, {'Q', ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#"},
      {'R', "####.|#...#|#...#|####.|#.#..|#..#.|#...#"}, {'S', ".####|#....|#....|.###.|....#|....#|####."},
      {'T', "#####|..#..|..#..|..#..|..#..|..#..|..#.."}, {'U', "#...#|#...#|#...#|#...#|#...#|#...#|.###."},
      {'V', "#...#|#...#|#...#|#...#|#...#|.#.#.|..#.."}, {'W', "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#."},
      {'X', "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#"}, {'Y', "#...#|#...#|.#.#.|..#..|..#..|..#..|..#.."},
      {'Z', "#####|....#|...#.|..#..|.#...|#....|#####"}, {'.', ".....|.....|.....|.....|.....|.##..|.##.."},
      {',', ".....|.....|.....|.....|.##..|..#..|.#..."}, {'-', ".....|.....|.....|#####|.....|.....|....."},
      {'+', ".....|..#..|..#..|#####|..#..|..#..|....."}, {'(', "...#.|..#..|.#...|.#...|.#...|..#..|...#."},
      {')', ".#...|..#..|...#.|...#.|...#.|..#..|.#..."}, {':', ".....|.##..|.##..|.....|.##..|.##..|....."},
      {'/', "....#|....#|...#.|..#..|.#...|#....|#...."}, {'%', "##..#|##..#|...#.|..#..|.#...|#..##|#..##"},
      {'=', ".....|.....|#####|.....|#####|.....|....."}, {'_', ".....|.....|.....|.....|.....|.....|#####"},
      {'^', "..#..|.#.#.|#...#|.....|.....|.....|....."}, {'?', ".###.|#...#|....#|...#.|..#..|.....|..#.."},
      {'[', ".###.|.#...|.#...|.#...|.#...|.#...|.###."}, {']', ".###.|...#.|...#.|...#.|...#.|...#.|.###."},
      {'\'', "..#..|..#..|.#...|.....|.....|.....|....."}, {'<', "...#.|..#..|.#...|#....|.#...|..#..|...#."},
      {'>', ".#...|..#..|...#.|....#|...#.|..#..|.#..."}
  };
  return g;
}

std::string format_tick(double v, double step) {
  char buffer[32];
  const int decimals = step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

}  // namespace

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
  uint8_t* p = image_.at(x, y);
  p[0] = c[0];
  p[1] = c[1];
  p[2] = c[2];
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb color) {
  for (int j = y; j < y + h; ++j)
    for (int i = x; i < x + w; ++i) set(i, j, color);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb color, bool dashed) {
  const double length = std::hypot(x1 - x0, y1 - y0);
  const int steps = std::max(1, int(std::ceil(length * 2)));
  for (int s = 0; s <= steps; ++s) {
    const double t = double(s) / steps;
    if (dashed && int(t * length / 6) % 2) continue;
    const int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
    set(x, y, color);
    set(x + 1, y, color);  // two pixels wide
    set(x, y + 1, color);
  }
}

void Canvas::text(int x, int y, const std::string& s, int scale, Rgb color) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    auto it = glyphs().find(c);
    const char* glyph = it == glyphs().end() ? glyphs().at('?') : it->second;
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col)
        if (glyph[row * 6 + col] == '#') fill_rect(x + int(i) * 6 * scale + col * scale, y + row * scale, scale, scale, color);
  }
}

void Canvas::grey(int x, int y, const std::vector<float>& values, int w, int h, float lo, float hi, int zoom) {
  const float span = hi > lo ? hi - lo : 1.f;
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const float t = std::clamp((values[size_t(r) * size_t(w) + size_t(c)] - lo) / span, 0.f, 1.f);
      const uint8_t g = uint8_t(std::lround(t * 255.f));
      fill_rect(x + c * zoom, y + r * zoom, zoom, zoom, {g, g, g});
    }
}

Slice axial_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t k) {
  Slice s{std::vector<float>(size_t(d[0] * d[1])), int(d[0]), int(d[1])};
  for (int64_t r = 0; r < d[1]; ++r)
    for (int64_t c = 0; c < d[0]; ++c) s.values[size_t(r * d[0] + c)] = v[size_t((k * d[1] + (d[1] - 1 - r)) * d[0] + c)];
  return s;
}

Slice coronal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t j) {
  Slice s{std::vector<float>(size_t(d[0] * d[2])), int(d[0]), int(d[2])};
  for (int64_t r = 0; r < d[2]; ++r)
    for (int64_t c = 0; c < d[0]; ++c) s.values[size_t(r * d[0] + c)] = v[size_t(((d[2] - 1 - r) * d[1] + j) * d[0] + c)];
  return s;
}

Slice sagittal_slice(const std::vector<float>& v, const std::array<int64_t, 3>& d, int64_t i) {
  Slice s{std::vector<float>(size_t(d[1] * d[2])), int(d[1]), int(d[2])};
  for (int64_t r = 0; r < d[2]; ++r)
    for (int64_t c = 0; c < d[1]; ++c) s.values[size_t(r * d[1] + c)] = v[size_t(((d[2] - 1 - r) * d[1] + c) * d[0] + i)];
  return s;
}

Slice crop(const Slice& s, int c0, int r0, int cols, int rows) {
  c0 = std::clamp(c0, 0, s.cols - 1);
  r0 = std::clamp(r0, 0, s.rows - 1);
  cols = std::min(cols, s.cols - c0);
  rows = std::min(rows, s.rows - r0);
  Slice out{std::vector<float>(size_t(cols) * size_t(rows)), cols, rows};
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out.values[size_t(r * cols + c)] = s.values[size_t((r0 + r) * s.cols + c0 + c)];
  return out;
}

RgbImage slice_grid(const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                    const std::vector<std::vector<Slice>>& panels, float lo, float hi, int zoom, const std::string& title) {
  MDCSRN_REQUIRE(panels.size() == row_labels.size(), "slice_grid: one row of panels per row label");
  const int gap = 8, label_width = 12 + std::transform_reduce(row_labels.begin(), row_labels.end(), 0, [](int a, int b) { return std::max(a, b); },
                                                             [](const std::string& s) { return Canvas::text_width(s); });
  const int title_height = 40, header = 28;
  std::vector<int> widths(column_labels.size(), 0), heights(row_labels.size(), 0);
  for (size_t r = 0; r < panels.size(); ++r) {
    MDCSRN_REQUIRE(panels[r].size() == column_labels.size(), "slice_grid: one panel per column label");
    for (size_t c = 0; c < panels[r].size(); ++c) {
      widths[c] = std::max(widths[c], panels[r][c].cols * zoom);
      heights[r] = std::max(heights[r], panels[r][c].rows * zoom);
    }
  }
  int width = label_width + gap, height = title_height + header;
  for (int w : widths) width += w + gap;
  for (int h : heights) height += h + gap;
  Canvas canvas(width, height);
  canvas.fill_rect(0, 0, width, height, {255, 255, 255});
  canvas.text(gap, 12, title, 2);
  int x = label_width + gap;
  for (size_t c = 0; c < column_labels.size(); ++c) {
    canvas.text(x + (widths[c] - Canvas::text_width(column_labels[c])) / 2, title_height + 4, column_labels[c]);
    x += widths[c] + gap;
  }
  int y = title_height + header;
  for (size_t r = 0; r < panels.size(); ++r) {
    canvas.text(gap, y + heights[r] / 2 - 7, row_labels[r]);
    x = label_width + gap;
    for (size_t c = 0; c < panels[r].size(); ++c) {
      const Slice& s = panels[r][c];
      canvas.grey(x, y, s.values, s.cols, s.rows, lo, hi, zoom);
      x += widths[c] + gap;
    }
    y += heights[r] + gap;
  }
  return canvas.image();
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

RgbImage line_plot(const std::string& title, const std::string& x_label, const std::string& y_label, const std::vector<Series>& series,
                   int width, int height) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  MDCSRN_REQUIRE(std::isfinite(x0) && std::isfinite(y0), "line_plot: no finite points to plot");
  if (x1 <= x0) x1 = x0 + 1;
  const double pad = y1 > y0 ? 0.05 * (y1 - y0) : 0.5;
  y0 -= pad;
  y1 += pad;
  const int left = 110, right = 30, top = 50, bottom = 70;
  const int pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };

  Canvas canvas(width, height);
  canvas.fill_rect(0, 0, width, height, {255, 255, 255});
  canvas.text(left, 8, title, 2);
  const Rgb grid{225, 225, 225}, axis{0, 0, 0};
  const std::vector<double> xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : xt) {
    canvas.line(px(t), top, px(t), top + ph, grid);
    const std::string label = format_tick(t, xstep);
    canvas.text(int(px(t)) - Canvas::text_width(label) / 2, top + ph + 8, label);
  }
  for (double t : yt) {
    canvas.line(left, py(t), left + pw, py(t), grid);
    const std::string label = format_tick(t, ystep);
    canvas.text(left - 8 - Canvas::text_width(label), int(py(t)) - 7, label);
  }
  canvas.line(left, top, left, top + ph, axis);
  canvas.line(left, top + ph, left + pw, top + ph, axis);
  canvas.text(left + (pw - Canvas::text_width(x_label)) / 2, height - 30, x_label);
  canvas.text(8, top - 18, y_label);
  // A scatter's points gather along its diagonal, leaving the upper left free for the legend.
  const bool scatter = std::any_of(series.begin(), series.end(), [](const Series& s) { return s.markers; });
  int legend_y = top + 8;
  for (const Series& s : series) {
    if (!s.markers)
      for (size_t i = 1; i < s.x.size(); ++i)
        if (std::isfinite(s.y[i - 1]) && std::isfinite(s.y[i])) canvas.line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.color, s.dashed);
    if (s.markers || s.x.size() == 1)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.y[i])) canvas.fill_rect(int(px(s.x[i])) - 2, int(py(s.y[i])) - 2, 5, 5, s.color);
    const int lx = scatter ? left + 20 : left + pw - 20 - Canvas::text_width(s.name) - 40;
    if (s.markers)
      canvas.fill_rect(lx + 12, legend_y + 5, 5, 5, s.color);
    else
      canvas.line(lx, legend_y + 7, lx + 30, legend_y + 7, s.color, s.dashed);
    canvas.text(lx + 38, legend_y, s.name, 2, s.color);
    legend_y += 22;
  }
  return canvas.image();
}

}  // namespace mdcsrn
