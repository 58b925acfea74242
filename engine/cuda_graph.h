#pragma once
// CUDA graphs for work that repeats unchanged (a training step): captured once from a context's
// stream, replayed with one launch, no host work per kernel. What changes between replays must
// live in device memory. SideStream runs work beside the context's stream, inside a capture or
// not: fork() starts it after the work queued so far, join() makes the context's stream wait.
#include <cuda_runtime.h>

#include <functional>

#include "engine/cuda_context.h"

namespace mdcsrn {

class CudaGraph {
 public:
  // Captures what `work` queues on ctx's stream (nothing runs now).
  CudaGraph(CudaContext& ctx, const std::function<void()>& work);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Replays it on ctx's stream.
  void launch();

 private:
  CudaContext& ctx_;
  cudaGraphExec_t exec_ = nullptr;
};

class SideStream {
 public:
  explicit SideStream(CudaContext& ctx);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

  // `work`'s launches on ctx go to the side stream, after everything queued on ctx's so far.
  void fork(const std::function<void()>& work);
  // ctx's stream waits for the side stream's work.
  void join();

 private:
  CudaContext& ctx_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t forked_ = nullptr, done_ = nullptr;
};

}  // namespace mdcsrn
