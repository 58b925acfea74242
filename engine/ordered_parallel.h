#pragma once
// Independent jobs run several at once, their results taken in order: how start-up and prepare
// handle many subjects (each subject's work is mostly serial, e.g. NIfTI compression).
#include <algorithm>
#include <cstdint>
#include <deque>
#include <future>

#include "engine/parallel.h"

namespace mdcsrn {

// Runs make(n) for n = 0 .. count - 1, each on its own thread, at most `at_once` at a time (at least
// one), each with its share of this thread's CPU threads for its own parallel_for; hands take(n,
// result) the results in order of n, on the calling thread, so what take builds does not depend on
// the number of threads. An exception from make(n) reaches the caller from take's turn for n,
// after the jobs already started have finished.
template <class Make, class Take>
void ordered_parallel(int64_t count, int64_t at_once, Make make, Take take) {
  at_once = std::clamp<int64_t>(at_once, 1, std::max<int64_t>(count, 1));
  const int threads_each = std::max<int>(1, cpu_threads() / int(at_once));
  const auto job = [&make, threads_each](int64_t n) {
    set_cpu_threads(threads_each);
    return make(n);
  };
  std::deque<std::future<decltype(make(int64_t{0}))>> running;
  for (int64_t n = 0; n < std::min(at_once, count); ++n) running.push_back(std::async(std::launch::async, job, n));
  for (int64_t n = 0; n < count; ++n) {
    auto result = running.front().get();
    running.pop_front();
    if (n + at_once < count) running.push_back(std::async(std::launch::async, job, n + at_once));
    take(n, std::move(result));
  }
}

}  // namespace mdcsrn
