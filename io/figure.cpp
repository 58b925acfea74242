#include "io/figure.h"

#include <cairo-pdf.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/error.h"
#include "io/volume.h"

namespace mdcsrn {
namespace {

constexpr const char* kFont = "DejaVu Sans";
constexpr double kLabelSize = 14, kTitleSize = 17, kTickSize = 13;

struct CairoDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
using Context = std::unique_ptr<cairo_t, CairoDeleter>;
using Surface = std::unique_ptr<cairo_surface_t, CairoDeleter>;

void require_ok(cairo_status_t status, const std::string& what) {
  if (status != CAIRO_STATUS_SUCCESS) fail(what + ": cairo: " + cairo_status_to_string(status));
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void set_colour(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0); }

// A series' line: 2 units wide, solid or dashed.
void set_series_line(cairo_t* cr, bool dashed) {
  static const double dash[2] = {7, 5};
  cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
  cairo_set_line_width(cr, 2);
}

void use_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

// The advance width of s, for layouts computed before a figure's page exists.
double text_width(const std::string& s, double size, bool bold = false) {
  const Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1));
  const Context cr(cairo_create(surface.get()));
  use_font(cr.get(), size, bold);
  cairo_text_extents_t e;
  cairo_text_extents(cr.get(), s.c_str(), &e);
  return e.x_advance;
}

// Text whose line box is vertically centred on y; align 0 puts its start at x, 0.5 its middle,
// 1 its end. `angle` turns it about (x, y), counter-clockwise in radians.
void put_text(cairo_t* cr, const std::string& s, double x, double y, double size, double align, Rgb colour, bool bold = false,
              double angle = 0) {
  cairo_save(cr);
  use_font(cr, size, bold);
  cairo_font_extents_t f;
  cairo_font_extents(cr, &f);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -angle);
  cairo_move_to(cr, -align * e.x_advance, (f.ascent - f.descent) / 2);
  set_colour(cr, colour);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// The slice as an image, lo..hi mapped to black..white (clamped), each voxel zoom x zoom units
// with sharp edges, its top-left corner at (x, y).
void put_slice(cairo_t* cr, const Slice& s, double x, double y, float lo, float hi, int zoom) {
  const Surface image(cairo_image_surface_create(CAIRO_FORMAT_RGB24, s.cols, s.rows));
  require_ok(cairo_surface_status(image.get()), "figure: slice image");
  cairo_surface_flush(image.get());
  unsigned char* pixels = cairo_image_surface_get_data(image.get());
  const int stride = cairo_image_surface_get_stride(image.get());
  const float span = hi > lo ? hi - lo : 1.f;
  for (int r = 0; r < s.rows; ++r)
    for (int c = 0; c < s.cols; ++c) {
      const float t = std::clamp((s.values[size_t(r) * size_t(s.cols) + size_t(c)] - lo) / span, 0.f, 1.f);
      const uint32_t g = uint32_t(std::lround(t * 255.f));
      const uint32_t pixel = g << 16 | g << 8 | g;
      std::memcpy(pixels + size_t(r) * size_t(stride) + size_t(c) * 4, &pixel, 4);
    }
  cairo_surface_mark_dirty(image.get());
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, zoom, zoom);
  cairo_set_source_surface(cr, image.get(), 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_rectangle(cr, 0, 0, s.cols, s.rows);
  cairo_fill(cr);
  cairo_restore(cr);
}

std::string format_tick(double v, double step) {
  char buffer[32];
  const int decimals = step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

}  // namespace

bool figures_enabled() { return true; }

Figure::Figure(int width, int height, Draw draw) : width_(width), height_(height), draw_(std::move(draw)) {
  MDCSRN_ASSERT(width > 0 && height > 0, "figure: empty page");
}

std::string Figure::png() const {
  const Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width_, height_));
  require_ok(cairo_surface_status(surface.get()), "figure: PNG page");
  {
    const Context cr(cairo_create(surface.get()));
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    draw_(cr.get());
    require_ok(cairo_status(cr.get()), "figure: drawing");
  }
  std::string bytes;
  require_ok(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &bytes), "figure: PNG encoding");
  return bytes;
}

std::string Figure::pdf() const {
  std::string bytes;
  {
    const Surface surface(cairo_pdf_surface_create_for_stream(append_bytes, &bytes, width_, height_));
    require_ok(cairo_surface_status(surface.get()), "figure: PDF page");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "mdcsrn");
    {
      const Context cr(cairo_create(surface.get()));
      cairo_set_source_rgb(cr.get(), 1, 1, 1);
      cairo_paint(cr.get());
      draw_(cr.get());
      require_ok(cairo_status(cr.get()), "figure: drawing");
    }
    cairo_surface_finish(surface.get());
    require_ok(cairo_surface_status(surface.get()), "figure: PDF output");
  }
  return bytes;
}

void Figure::write(const std::string& stem) const {
  write_text_atomically(stem + ".png", png());
  write_text_atomically(stem + ".pdf", pdf());
}

Figure slice_grid(const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                  std::vector<std::vector<Slice>> panels, float lo, float hi, int zoom, const std::string& title) {
  MDCSRN_ASSERT(panels.size() == row_labels.size(), "slice_grid: one row of panels per row label");
  const int gap = 8, title_height = 40, header = 26;
  double widest_label = 0;
  for (const std::string& s : row_labels) widest_label = std::max(widest_label, text_width(s, kLabelSize));
  const int label_width = 16 + int(std::ceil(widest_label));
  std::vector<int> widths(column_labels.size(), 0), heights(row_labels.size(), 0);
  for (size_t r = 0; r < panels.size(); ++r) {
    MDCSRN_ASSERT(panels[r].size() == column_labels.size(), "slice_grid: one panel per column label");
    for (size_t c = 0; c < panels[r].size(); ++c) {
      widths[c] = std::max(widths[c], panels[r][c].cols * zoom);
      heights[r] = std::max(heights[r], panels[r][c].rows * zoom);
    }
  }
  int width = label_width + gap, height = title_height + header;
  for (int w : widths) width += w + gap;
  for (int h : heights) height += h + gap;
  width = std::max(width, gap * 2 + int(std::ceil(text_width(title, kTitleSize, true))));
  return Figure(width, height, [=, panels = std::move(panels)](cairo_t* cr) {
    const Rgb ink{0, 0, 0};
    put_text(cr, title, gap, title_height / 2.0, kTitleSize, 0, ink, true);
    int x = label_width + gap;
    for (size_t c = 0; c < column_labels.size(); ++c) {
      put_text(cr, column_labels[c], x + widths[c] / 2.0, title_height + header / 2.0, kLabelSize, 0.5, ink);
      x += widths[c] + gap;
    }
    int y = title_height + header;
    for (size_t r = 0; r < panels.size(); ++r) {
      put_text(cr, row_labels[r], gap, y + heights[r] / 2.0, kLabelSize, 0, ink);
      x = label_width + gap;
      for (size_t c = 0; c < panels[r].size(); ++c) {
        put_slice(cr, panels[r][c], x, y, lo, hi, zoom);
        x += widths[c] + gap;
      }
      y += heights[r] + gap;
    }
  });
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

Figure line_plot(const std::string& title, const std::string& x_label, const std::string& y_label, std::vector<Series> series, int width,
                 int height) {
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
  // A scatter's outermost dots would be cut in half by the axes' edges.
  if (std::any_of(series.begin(), series.end(), [](const Series& s) { return s.markers; })) {
    const double x_pad = 0.03 * (x1 - x0);
    x0 -= x_pad;
    x1 += x_pad;
  }
  const double pad = y1 > y0 ? 0.05 * (y1 - y0) : 0.5;
  y0 -= pad;
  y1 += pad;
  double legend_text = 0;
  for (const Series& s : series) legend_text = std::max(legend_text, text_width(s.name, kLabelSize));

  return Figure(width, height, [=, series = std::move(series)](cairo_t* cr) {
    const double left = 90, right = 30, top = 50, bottom = 64;
    const double pw = width - left - right, ph = height - top - bottom;
    auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
    auto py = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };
    const Rgb ink{0, 0, 0}, grid{225, 225, 225};
    put_text(cr, title, left, 24, kTitleSize, 0, ink, true);

    const std::vector<double> xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
    const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    cairo_set_line_width(cr, 1);
    set_colour(cr, grid);
    for (double t : xt) {
      cairo_move_to(cr, std::round(px(t)) + 0.5, top);
      cairo_line_to(cr, std::round(px(t)) + 0.5, top + ph);
    }
    for (double t : yt) {
      cairo_move_to(cr, left, std::round(py(t)) + 0.5);
      cairo_line_to(cr, left + pw, std::round(py(t)) + 0.5);
    }
    cairo_stroke(cr);
    for (double t : xt) put_text(cr, format_tick(t, xstep), px(t), top + ph + 16, kTickSize, 0.5, ink);
    for (double t : yt) put_text(cr, format_tick(t, ystep), left - 8, py(t), kTickSize, 1, ink);
    set_colour(cr, ink);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, left, top);
    cairo_line_to(cr, left, top + ph);
    cairo_line_to(cr, left + pw, top + ph);
    cairo_stroke(cr);
    put_text(cr, x_label, left + pw / 2, height - 20, kLabelSize, 0.5, ink);
    put_text(cr, y_label, 22, top + ph / 2, kLabelSize, 0.5, ink, false, M_PI / 2);

    cairo_save(cr);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (const Series& s : series) {
      set_colour(cr, s.color);
      if (!s.markers) {
        set_series_line(cr, s.dashed);
        for (size_t i = 1; i < s.x.size(); ++i)
          if (std::isfinite(s.y[i - 1]) && std::isfinite(s.y[i])) {
            if (i == 1 || !std::isfinite(s.y[i - 2])) cairo_move_to(cr, px(s.x[i - 1]), py(s.y[i - 1]));
            cairo_line_to(cr, px(s.x[i]), py(s.y[i]));
          }
        cairo_stroke(cr);
      }
      if (s.markers || s.x.size() == 1)
        for (size_t i = 0; i < s.x.size(); ++i)
          if (std::isfinite(s.y[i])) {
            cairo_new_sub_path(cr);
            cairo_arc(cr, px(s.x[i]), py(s.y[i]), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
          }
    }
    cairo_restore(cr);

    // The legend goes in the corner of the plot that covers the fewest drawn points (lines
    // sampled every few units), upper right first on ties.
    const double row = 22, box_w = legend_text + 58, box_h = row * double(series.size()) + 8, margin = 10;
    const std::array<std::array<double, 2>, 4> corners{{{left + pw - margin - box_w, top + margin},
                                                         {left + margin, top + margin},
                                                         {left + pw - margin - box_w, top + ph - margin - box_h},
                                                         {left + margin, top + ph - margin - box_h}}};
    std::array<int, 4> covered{};
    const auto count_point = [&](double x, double y) {
      for (size_t k = 0; k < corners.size(); ++k)
        covered[k] += x >= corners[k][0] && x <= corners[k][0] + box_w && y >= corners[k][1] && y <= corners[k][1] + box_h;
    };
    for (const Series& s : series)
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.y[i])) continue;
        count_point(px(s.x[i]), py(s.y[i]));
        if (s.markers || i == 0 || !std::isfinite(s.y[i - 1])) continue;
        const double length = std::hypot(px(s.x[i]) - px(s.x[i - 1]), py(s.y[i]) - py(s.y[i - 1]));
        for (double t = 4 / std::max(length, 4.0); t < 1; t += 4 / std::max(length, 4.0))
          count_point(px(s.x[i - 1] + t * (s.x[i] - s.x[i - 1])), py(s.y[i - 1] + t * (s.y[i] - s.y[i - 1])));
      }
    const size_t best = size_t(std::min_element(covered.begin(), covered.end()) - covered.begin());
    const double bx = corners[best][0], by = corners[best][1];
    cairo_rectangle(cr, bx + 0.5, by + 0.5, box_w, box_h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t k = 0; k < series.size(); ++k) {
      const Series& s = series[k];
      const double y = by + 4 + row * (double(k) + 0.5);
      set_colour(cr, s.color);
      if (s.markers) {
        cairo_arc(cr, bx + 24, y, 3.5, 0, 2 * M_PI);
        cairo_fill(cr);
      } else {
        set_series_line(cr, s.dashed);
        cairo_move_to(cr, bx + 8, y);
        cairo_line_to(cr, bx + 40, y);
        cairo_stroke(cr);
      }
      put_text(cr, s.name, bx + 48, y, kLabelSize, 0, ink);
    }
  });
}

}  // namespace mdcsrn
