// The figures of a build without cairo: figures_enabled() says so, and rendering one is an error
// naming what is missing. Callers check figures_enabled() and write their tables without figures.
#include "engine/error.h"
#include "io/figure.h"

namespace mdcsrn {
namespace {

[[noreturn]] void figures_off() { fail("figures are off: this build found no cairo (Debian: libcairo2-dev; rebuild to draw them)"); }

}  // namespace

bool figures_enabled() { return false; }

Figure::Figure(int width, int height, Draw draw) : width_(width), height_(height), draw_(std::move(draw)) {}
std::string Figure::png() const { figures_off(); }
std::string Figure::pdf() const { figures_off(); }
void Figure::write(const std::string&) const { figures_off(); }

Figure slice_grid(const std::vector<std::string>&, const std::vector<std::string>&, std::vector<std::vector<Slice>>, float, float, int,
                  const std::string&) {
  figures_off();
}
Figure line_plot(const std::string&, const std::string&, const std::string&, std::vector<Series>, int, int) { figures_off(); }

}  // namespace mdcsrn
