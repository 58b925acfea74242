#include "engine/parallel.h"

#include <omp.h>

#include <algorithm>

namespace mdcsrn {

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = (count + grain - 1) / grain;
  const int64_t chunks = std::min<int64_t>(max_chunks, int64_t(cpu_threads()) * 4);
  if (chunks <= 1) {
    body(0, count);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t begin = count * chunk / chunks;
    const int64_t end = count * (chunk + 1) / chunks;
    body(begin, end);
  }
}

int cpu_threads() { return omp_get_max_threads(); }

void set_cpu_threads(int threads) { omp_set_num_threads(std::max(threads, 1)); }

}  // namespace mdcsrn
