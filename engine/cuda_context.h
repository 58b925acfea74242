#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine/memory.h"

namespace mdcsrn {

// The CUDA device: one stream and the library handles bound to it, a cache of plans built once per
// shape (cuDNN algorithm choices, cuFFT plans), and the scratch memory those plans need.
class CudaContext {
 public:
  static constexpr MemoryKind memory = MemoryKind::Device;

  explicit CudaContext(int device = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  cudaStream_t stream() const { return stream_; }
  // Sends this context's launches to `stream` and returns the one they went to; the library
  // handles keep theirs. For work beside the main stream (engine/cuda_graph.h's SideStream).
  cudaStream_t redirect(cudaStream_t stream) {
    const cudaStream_t previous = stream_;
    stream_ = stream;
    return previous;
  }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  void synchronize() const;
  // Zeroes device memory in stream order (no host synchronisation).
  void zero(void* p, size_t bytes) const;

  // TF32 tensor-core math for float convolutions and GEMMs; off means strict fp32 (FMA only).
  bool tf32() const { return tf32_; }
  void set_tf32(bool enabled);

  // Deterministic (the default): only convolution algorithms that give the same bits every run.
  bool deterministic() const { return deterministic_; }
  void set_deterministic(bool enabled) { deterministic_ = enabled; }

  // The plan stored under `key`, built by make() on first use. Keys start with the op's name.
  template <class Plan>
  Plan& plan(const std::string& key, const std::function<std::unique_ptr<Plan>()>& make) {
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      std::unique_ptr<Plan> built = make();
      it = plans_.emplace(key, std::shared_ptr<void>(built.release(), [](void* p) { delete static_cast<Plan*>(p); })).first;
    }
    return *static_cast<Plan*>(it->second.get());
  }

  // A complex-to-complex single-precision 3-D FFT plan on this stream, built once per size.
  cufftHandle fft_plan_c2c(int d, int h, int w);

  // Scratch for one op at a time (cuDNN workspaces, reduction partials); valid until the next
  // call. It grows, after a synchronise, only when a larger request first appears, so steady-state
  // steps allocate nothing; growing while a graph is being captured is an error (run the work
  // once before capturing it).
  void* scratch(size_t bytes);

 private:
  int device_ = 0;
  bool tf32_ = false;
  bool deterministic_ = true;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unordered_map<std::string, std::shared_ptr<void>> plans_;
  Buffer<unsigned char> workspace_;
};

}  // namespace mdcsrn
