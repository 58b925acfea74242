#pragma once
// What the data-parallel tests compare: two runs' generator state, one spread over the ranks and
// one of a single process.
#include <algorithm>
#include <cmath>
#include <vector>

#include "models/checkpoint.h"
#include "tests/support.h"

namespace mdcsrn::test {

// The largest |a - b| over the largest |a|: how far two runs' tensors are apart.
inline double relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double gap = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(a[i])));
  }
  return gap / scale;
}

// The same step, and weights, Adam's moments and BatchNorm's running statistics within `bound`.
inline void check_same_state(const GeneratorState& a, const GeneratorState& b, double bound) {
  CHECK(a.step == b.step);
  const double params = relative_gap(a.params, b.params), m = relative_gap(a.adam_m, b.adam_m), v = relative_gap(a.adam_v, b.adam_v),
               running = relative_gap(a.running, b.running);
  MESSAGE("relative gaps: weights " << params << ", Adam m " << m << ", Adam v " << v << ", running statistics " << running);
  CHECK(params < bound);
  CHECK(m < bound);
  CHECK(v < bound);
  CHECK(running < bound);
}

}  // namespace mdcsrn::test
