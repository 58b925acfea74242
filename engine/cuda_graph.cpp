#include "engine/cuda_graph.h"

#include "engine/cuda_check.h"

namespace mdcsrn {

CudaGraph::CudaGraph(CudaContext& ctx, const std::function<void()>& work) : ctx_(ctx) {
  MDCSRN_CUDA_CHECK(cudaStreamBeginCapture(ctx.stream(), cudaStreamCaptureModeThreadLocal));
  cudaGraph_t graph = nullptr;
  try {
    work();
  } catch (...) {
    cudaStreamEndCapture(ctx.stream(), &graph);  // leaves the stream usable; the error is work's
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  MDCSRN_CUDA_CHECK(cudaStreamEndCapture(ctx.stream(), &graph));
  const cudaError_t instantiated = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  MDCSRN_CUDA_CHECK(instantiated);
}

CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(exec_);
}

void CudaGraph::launch() { MDCSRN_CUDA_CHECK(cudaGraphLaunch(exec_, ctx_.stream())); }

SideStream::SideStream(CudaContext& ctx) : ctx_(ctx) {
  MDCSRN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MDCSRN_CUDA_CHECK(cudaEventCreateWithFlags(&forked_, cudaEventDisableTiming));
  MDCSRN_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
}

SideStream::~SideStream() {
  cudaStreamSynchronize(stream_);
  cudaEventDestroy(done_);
  cudaEventDestroy(forked_);
  cudaStreamDestroy(stream_);
}

void SideStream::fork(const std::function<void()>& work) {
  MDCSRN_CUDA_CHECK(cudaEventRecord(forked_, ctx_.stream()));
  MDCSRN_CUDA_CHECK(cudaStreamWaitEvent(stream_, forked_, 0));
  const cudaStream_t main = ctx_.redirect(stream_);
  try {
    work();
  } catch (...) {
    ctx_.redirect(main);
    throw;
  }
  ctx_.redirect(main);
  MDCSRN_CUDA_CHECK(cudaEventRecord(done_, stream_));
}

void SideStream::join() { MDCSRN_CUDA_CHECK(cudaStreamWaitEvent(ctx_.stream(), done_, 0)); }

}  // namespace mdcsrn
