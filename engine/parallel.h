#pragma once
#include <cstdint>
#include <functional>

namespace mdcsrn {

// Runs body(begin, end) over disjoint chunks of [0, count) on the CPU threads (OpenMP). Chunks hold
// at least `grain` items so that small tensors stay on one thread.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

int cpu_threads();

}  // namespace mdcsrn
