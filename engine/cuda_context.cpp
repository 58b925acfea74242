#include "engine/cuda_context.h"

#include <cstdio>

#include "engine/cuda_check.h"
#include "engine/cpu_isa.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace mdcsrn {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return count;
}

std::string describe_device(DeviceKind kind) {
  if (kind == DeviceKind::Cpu) return "CPU, " + std::to_string(cpu_threads()) + " threads, " + cpu_isa_name(cpu_isa());
  if (cuda_device_count() == 0) return "no CUDA device visible";
  int device = 0;
  MDCSRN_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  MDCSRN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", double(prop.totalGlobalMem) / (1 << 30));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.multiProcessorCount) + " SMs, " + memory + ")";
}

CudaContext::CudaContext(int device) : device_(device) {
  MDCSRN_REQUIRE(device >= 0 && device < cuda_device_count(), "CUDA device " + std::to_string(device) + " is not available");
  MDCSRN_CUDA_CHECK(cudaSetDevice(device));
  MDCSRN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MDCSRN_CUDA_CHECK(cudnnCreate(&cudnn_));
  MDCSRN_CUDA_CHECK(cudnnSetStream(cudnn_, stream_));
  MDCSRN_CUDA_CHECK(cublasCreate(&cublas_));
  MDCSRN_CUDA_CHECK(cublasSetStream(cublas_, stream_));
  set_tf32(false);
}

CudaContext::~CudaContext() {
  if (stream_) cudaStreamSynchronize(stream_);
  plans_.clear();  // plans hold cuDNN descriptors and cuFFT plans: release them before the handles
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaContext::synchronize() const { MDCSRN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void CudaContext::zero(void* p, size_t bytes) const { MDCSRN_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_)); }

void CudaContext::set_tf32(bool enabled) {
  tf32_ = enabled;
  MDCSRN_CUDA_CHECK(cublasSetMathMode(cublas_, enabled ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
}

namespace {
struct FftPlan {
  cufftHandle handle = 0;
  ~FftPlan() {
    if (handle) cufftDestroy(handle);
  }
};
}  // namespace

cufftHandle CudaContext::fft_plan_c2c(int d, int h, int w) {
  const std::string key = "fft_c2c:" + std::to_string(d) + "x" + std::to_string(h) + "x" + std::to_string(w);
  FftPlan& p = plan<FftPlan>(key, [&] {
    auto made = std::make_unique<FftPlan>();
    MDCSRN_CUDA_CHECK(cufftPlan3d(&made->handle, d, h, w, CUFFT_C2C));
    MDCSRN_CUDA_CHECK(cufftSetStream(made->handle, stream_));
    return made;
  });
  return p.handle;
}

void* CudaContext::scratch(size_t bytes) {
  if (bytes > size_t(workspace_.size())) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    MDCSRN_CUDA_CHECK(cudaStreamIsCapturing(stream_, &capture));
    MDCSRN_ASSERT(capture == cudaStreamCaptureStatusNone, "scratch: " + std::to_string(bytes) + " bytes requested while a CUDA graph is captured");
    synchronize();
    workspace_ = Buffer<unsigned char>(MemoryKind::Device, int64_t(bytes));
  }
  return workspace_.data();
}

}  // namespace mdcsrn
