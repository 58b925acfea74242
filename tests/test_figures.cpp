#include <cairo.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/figure.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// A PNG decoded by cairo: width x height pixels, RGB.
struct Decoded {
  int width = 0, height = 0;
  std::vector<Rgb> pixels;
  const Rgb& at(int x, int y) const { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
};

Decoded decode_png(const std::string& bytes) {
  struct Reader {
    const std::string& bytes;
    size_t at = 0;
  } reader{bytes};
  const auto read = [](void* closure, unsigned char* data, unsigned int length) {
    Reader& r = *static_cast<Reader*>(closure);
    if (r.at + length > r.bytes.size()) return CAIRO_STATUS_READ_ERROR;
    std::memcpy(data, r.bytes.data() + r.at, length);
    r.at += length;
    return CAIRO_STATUS_SUCCESS;
  };
  cairo_surface_t* image = cairo_image_surface_create_from_png_stream(read, &reader);
  REQUIRE(cairo_surface_status(image) == CAIRO_STATUS_SUCCESS);
  Decoded d;
  d.width = cairo_image_surface_get_width(image);
  d.height = cairo_image_surface_get_height(image);
  const cairo_format_t format = cairo_image_surface_get_format(image);
  CHECK((format == CAIRO_FORMAT_RGB24 || format == CAIRO_FORMAT_ARGB32));
  const unsigned char* data = cairo_image_surface_get_data(image);
  const int stride = cairo_image_surface_get_stride(image);
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x) {
      uint32_t p;
      std::memcpy(&p, data + size_t(y) * size_t(stride) + size_t(x) * 4, 4);
      d.pixels.push_back(Rgb{uint8_t(p >> 16), uint8_t(p >> 8), uint8_t(p)});
    }
  cairo_surface_destroy(image);
  return d;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The position of a one-panel slice grid's black voxel, in voxels from the panel's top-left. The
// panel's top-left is found from its runs of mid grey (text is never that long a run of one grey);
// the labels and title lie left of and above it.
std::array<double, 2> marker_in_panel(const Decoded& d, int zoom) {
  const Rgb grey{128, 128, 128}, black{0, 0, 0};
  int x0 = d.width, y0 = d.height;
  for (int y = 0; y < d.height; ++y)
    for (int x = 0, run = 0; x < d.width; ++x) {
      run = d.at(x, y) == grey ? run + 1 : 0;
      if (run >= 2 * zoom) {
        x0 = std::min(x0, x - run + 1);
        y0 = std::min(y0, y);
      }
    }
  REQUIRE(x0 < d.width);
  double sx = 0, sy = 0;
  int count = 0;
  for (int y = y0; y < d.height; ++y)
    for (int x = x0; x < d.width; ++x)
      if (d.at(x, y) == black) {
        sx += x;
        sy += y;
        ++count;
      }
  REQUIRE(count == zoom * zoom);  // one voxel, drawn as a sharp zoom x zoom square
  return {(sx / count - x0 - (zoom - 1) / 2.0) / zoom, (sy / count - y0 - (zoom - 1) / 2.0) / zoom};
}

TEST_SUITE("figures") {
  TEST_CASE("a figure is written as a PNG that decodes to its page and as a PDF") {
    TempDir dir("mdcsrn_figures");
    const Figure figure = line_plot("a title", "x", "y", {{"a", {200, 10, 10}, {0, 1, 2}, {1, 3, 2}}}, 320, 200);
    figure.write(dir.path("plot"));
    const Decoded d = decode_png(read_bytes(dir.path("plot.png")));
    CHECK(d.width == 320);
    CHECK(d.height == 200);
    const std::string pdf = read_bytes(dir.path("plot.pdf"));
    CHECK(pdf.starts_with("%PDF-"));
    CHECK(pdf.find("%%EOF") != std::string::npos);
    CHECK(pdf.find("/MediaBox [ 0 0 320 200 ]") != std::string::npos);
    CHECK(!std::filesystem::exists(dir.path("plot")));  // no stray temporary or extension-less file
    CHECK(std::distance(std::filesystem::directory_iterator(dir.root()), std::filesystem::directory_iterator()) == 2);
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

  TEST_CASE("a slice grid's PNG shows superior and anterior up, voxel for voxel") {
    // Mid grey everywhere but one black voxel at i 1, j 3 (anterior), k 4 (superior).
    const std::array<int64_t, 3> dims{6, 5, 6};
    std::vector<float> v(180, 0.5f);
    v[size_t((4 * 5 + 3) * 6 + 1)] = 0.f;
    const int zoom = 8;
    struct View {
      const char* name;
      Slice slice;
      double column, row;  // where the black voxel must appear
    };
    for (const View& view : {View{"axial", axial_slice(v, dims, 4), 1, 1}, View{"coronal", coronal_slice(v, dims, 3), 1, 1},
                             View{"sagittal", sagittal_slice(v, dims, 1), 3, 1}}) {
      CAPTURE(view.name);
      const Figure f = slice_grid({"HR"}, {view.name}, {{view.slice}}, 0.f, 1.f, zoom, std::string("orientation: ") + view.name);
      const std::array<double, 2> at = marker_in_panel(decode_png(f.png()), zoom);
      CHECK(at[0] == doctest::Approx(view.column).epsilon(0.01));
      CHECK(at[1] == doctest::Approx(view.row).epsilon(0.01));
    }
  }

  TEST_CASE("a line plot draws its series in their colours, and its labels as text") {
    const auto reddish = [](const Decoded& d) {
      int n = 0;
      for (const Rgb& p : d.pixels) n += p[0] > 150 && p[1] < 90 && p[2] < 90;
      return n;
    };
    const auto inked_rows = [](const Decoded& d, int from, int to) {
      int n = 0;
      for (int y = from; y < to; ++y)
        for (int x = 0; x < d.width; ++x)
          if (d.at(x, y)[0] < 100) {
            ++n;
            break;
          }
      return n;
    };
    const Decoded plot = decode_png(line_plot("Loss per step", "x", "y", {{"a", {200, 10, 10}, {0, 1, 2}, {1, 3, 2}}}, 300, 200).png());
    const Decoded untitled = decode_png(line_plot("", "x", "y", {{"a", {200, 10, 10}, {0, 1, 2}, {1, 3, 2}}}, 300, 200).png());
    CHECK(reddish(plot) > 200);
    CHECK(inked_rows(plot, 0, 40) >= 10);  // the title: a line of 17-unit text
    CHECK(inked_rows(untitled, 0, 40) == 0);
    CHECK_THROWS_AS(line_plot("t", "x", "y", {{"a", {0, 0, 0}, {0}, {NAN}}}), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
