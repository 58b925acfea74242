#pragma once
// The one error-check path for CUDA runtime, cuDNN, cuBLAS and cuFFT calls and kernel launches:
// each failure becomes an mdcsrn::Error naming the call, the status and the source location.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

namespace mdcsrn::detail {

void check(cudaError_t status, const char* call, const char* file, int line);
void check(cudnnStatus_t status, const char* call, const char* file, int line);
void check(cublasStatus_t status, const char* call, const char* file, int line);
void check(cufftResult status, const char* call, const char* file, int line);

}  // namespace mdcsrn::detail

#define MDCSRN_CUDA_CHECK(call) ::mdcsrn::detail::check((call), #call, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at once; faults inside the kernel
// surface at the next synchronising call, which is checked too.
#define MDCSRN_KERNEL_CHECK() ::mdcsrn::detail::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
