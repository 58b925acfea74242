#pragma once
// Marks functions compiled for both the host and the device, so that the CPU reference and the CUDA
// kernels share one copy of every per-element formula.
#if defined(__CUDACC__)
#define MDCSRN_HD __host__ __device__ __forceinline__
#else
#define MDCSRN_HD inline
#endif
