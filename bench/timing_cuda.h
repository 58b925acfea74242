#pragma once
#include <cuda_runtime.h>

#include "bench/timing.h"
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"

namespace mdcsrn::bench {

// Median time in milliseconds of the GPU work that run() queues on ctx's stream, by CUDA events.
inline double time_gpu_ms(CudaContext& ctx, int warmup, int repeats, const std::function<void()>& run) {
  for (int i = 0; i < warmup; ++i) run();
  ctx.synchronize();
  cudaEvent_t start, stop;
  MDCSRN_CUDA_CHECK(cudaEventCreate(&start));
  MDCSRN_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    MDCSRN_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    run();
    MDCSRN_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    MDCSRN_CUDA_CHECK(cudaEventSynchronize(stop));
    float elapsed = 0;
    MDCSRN_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
    ms.push_back(elapsed);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(ms);
}

}  // namespace mdcsrn::bench
