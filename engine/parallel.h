#pragma once
#include <cstdint>
#include <functional>

namespace mdcsrn {

// Runs body(begin, end) over disjoint chunks of [0, count) on the CPU threads (OpenMP). Chunks hold
// at least `grain` items so that small tensors stay on one thread.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// The CPU threads parallel_for uses when called from this thread.
int cpu_threads();
// Sets them, for this thread's later calls (threads started later keep their own count).
void set_cpu_threads(int threads);

}  // namespace mdcsrn
