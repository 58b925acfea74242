#pragma once
// Timing for the benchmark programs: medians after warm-up, host clocks for CPU work and CUDA
// events for GPU work.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace mdcsrn::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median wall time of run() in milliseconds.
inline double time_cpu_ms(int warmup, int repeats, const std::function<void()>& run) {
  for (int i = 0; i < warmup; ++i) run();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(ms);
}

}  // namespace mdcsrn::bench
