#pragma once
// Launch helpers and block reductions for the CUDA kernels. Reductions are deterministic: each
// block reduces a fixed slice in a fixed tree order, and partials are merged in index order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"

namespace mdcsrn::gpu {

constexpr int kThreads = 256;

inline unsigned grid_for(int64_t count, int64_t per_thread = 1) {
  const int64_t blocks = (count + kThreads * per_thread - 1) / (kThreads * per_thread);
  return unsigned(std::clamp<int64_t>(blocks, 1, 1 << 20));
}

// Grid-stride loop over [0, count).
#define MDCSRN_GRID_LOOP(i, count)                                                        \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count);          \
       i += int64_t(blockDim.x) * gridDim.x)

// Tree reduction of one accumulator per thread (blockDim.x == kThreads); thread 0 gets the result.
template <class Acc>
__device__ Acc block_reduce(Acc acc) {
  // Raw storage: accumulators have default member initialisers, which __shared__ forbids.
  __shared__ alignas(Acc) unsigned char storage[sizeof(Acc) * kThreads];
  Acc* shared = reinterpret_cast<Acc*>(storage);
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (int(threadIdx.x) < stride) shared[threadIdx.x].merge(shared[threadIdx.x + stride]);
    __syncthreads();
  }
  return shared[0];
}

// Block (part, group) reduces elements [begin, end) of group `group` into partials[group * parts +
// part]. load(acc, group, j) pushes element j of a group into the accumulator.
template <class Acc, class Loader>
__global__ void __launch_bounds__(kThreads) grouped_partials_kernel(Loader load, int64_t per_group, int parts, Acc* partials) {
  const int64_t group = blockIdx.y;
  const int part = blockIdx.x;
  const int64_t begin = per_group * part / parts, end = per_group * (part + 1) / parts;
  Acc acc{};
  for (int64_t j = begin + threadIdx.x; j < end; j += kThreads) load(acc, group, j);
  acc = block_reduce(acc);
  if (threadIdx.x == 0) partials[group * parts + part] = acc;
}

// Enough parts to give the GPU a few hundred blocks, each with at least a few thousand elements.
inline int reduction_parts(int64_t groups, int64_t per_group) {
  const int64_t wanted = std::max<int64_t>(1, 512 / std::max<int64_t>(groups, 1));
  const int64_t useful = std::max<int64_t>(1, per_group / (kThreads * 8));
  return int(std::min(wanted, useful));
}

// Runs the partial reduction and returns the partials (in ctx's scratch), parts per group.
template <class Acc, class Loader>
Acc* reduce_groups(CudaContext& ctx, Loader load, int64_t groups, int64_t per_group, int& parts) {
  parts = reduction_parts(groups, per_group);
  Acc* partials = static_cast<Acc*>(ctx.scratch(sizeof(Acc) * size_t(groups * parts)));
  grouped_partials_kernel<Acc><<<dim3(unsigned(parts), unsigned(groups)), kThreads, 0, ctx.stream()>>>(load, per_group, parts, partials);
  MDCSRN_KERNEL_CHECK();
  return partials;
}

template <class Acc>
__device__ Acc merge_parts(const Acc* partials, int64_t group, int parts) {
  Acc acc{};
  for (int k = 0; k < parts; ++k) acc.merge(partials[group * parts + k]);
  return acc;
}

}  // namespace mdcsrn::gpu
