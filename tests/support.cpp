#include "tests/support.h"

#include <algorithm>

namespace mdcsrn::test {

void check_finite_differences(const std::string& what, std::vector<double>& storage, const std::vector<int64_t>& offsets,
                              const std::vector<double>& analytic, const std::function<double()>& loss,
                              const FdOptions& options, uint64_t seed) {
  REQUIRE(!offsets.empty());
  std::vector<int64_t> picks = offsets;
  std::mt19937_64 rng(seed);
  std::shuffle(picks.begin(), picks.end(), rng);
  picks.resize(std::min(picks.size(), size_t(options.max_checks)));
  int failures = 0;
  for (int64_t i : picks) {
    const double saved = storage[size_t(i)];
    storage[size_t(i)] = saved + options.step;
    const double plus = loss();
    storage[size_t(i)] = saved - options.step;
    const double minus = loss();
    storage[size_t(i)] = saved;
    const double numeric = (plus - minus) / (2 * options.step);
    const double a = analytic[size_t(i)];
    const bool ok = std::fabs(a - numeric) <= options.atol + options.rtol * std::fabs(numeric);
    if (!ok && failures++ < 3)
      FAIL_CHECK(what << ": element " << i << " analytic " << a << " numeric " << numeric << " difference " << a - numeric);
  }
  CHECK_MESSAGE(failures == 0, what << ": " << failures << " of " << picks.size() << " elements off");
}

void check_every_parameter(const ParamTable& table, std::vector<double>& params, const std::vector<double>& grads,
                           const std::function<double()>& loss, const FdOptions& options) {
  for (const ParamEntry& e : table.entries()) {
    std::vector<int64_t> offsets(size_t(e.numel));
    for (int64_t i = 0; i < e.numel; ++i) offsets[size_t(i)] = e.offset + i;
    check_finite_differences(e.name, params, offsets, grads, loss, options, 7);
  }
}

}  // namespace mdcsrn::test
