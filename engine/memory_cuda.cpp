#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "engine/memory.h"

namespace mdcsrn::detail {

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {
    size_t free_bytes = 0, total_bytes = 0;
    cudaGetLastError();
    cudaMemGetInfo(&free_bytes, &total_bytes);
    fail("out of GPU memory: requested " + std::to_string(bytes >> 20) + " MiB with " +
         std::to_string(free_bytes >> 20) + " of " + std::to_string(total_bytes >> 20) + " MiB free");
  }
  MDCSRN_CUDA_CHECK(status);
  return p;
}

void device_free(void* p) noexcept { cudaFree(p); }

// Copies and fills go through the legacy default stream, which does not wait for the non-blocking
// streams kernels run on: wait for all queued GPU work first, so a copy never races a kernel.
// None of these is on a training step's path.
void device_copy(MemoryKind dst_kind, void* dst, MemoryKind src_kind, const void* src, size_t bytes) {
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
  (void)dst_kind, (void)src_kind;  // unified addressing tells pinned, pageable and device memory apart
  MDCSRN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
}

void device_zero(void* p, size_t bytes) {
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
  MDCSRN_CUDA_CHECK(cudaMemset(p, 0, bytes));
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
}

namespace {

// After the system refused to pin `bytes` of host memory: go on with it pageable, with a note, if
// the GPU reads pageable memory (HMM or ATS); otherwise an Error naming the size and the way out.
void settle_for_pageable(size_t bytes, const char* remedy) {
  cudaGetLastError();
  int device = 0, pageable = 0;
  MDCSRN_CUDA_CHECK(cudaGetDevice(&device));
  MDCSRN_CUDA_CHECK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
  if (!pageable)
    fail("cannot pin " + std::to_string(bytes >> 20) + " MiB of host memory for the GPU to read, and this GPU cannot read pageable memory: " + remedy);
  std::fprintf(stderr, "note: could not pin %zu MiB of host memory; the GPU reads it as pageable memory (slower)\n", bytes >> 20);
}

}  // namespace

std::shared_ptr<void> pin_host_memory(void* p, size_t bytes) {
  if (cudaHostRegister(p, bytes, cudaHostRegisterMapped | cudaHostRegisterPortable) == cudaSuccess) {
    std::shared_ptr<void> registration(p, [](void* q) { cudaHostUnregister(q); });
    // Kernels are handed the host address itself, which needs a GPU that maps registered memory
    // at the same address (H100 and H200 on Linux do).
    void* on_device = nullptr;
    MDCSRN_CUDA_CHECK(cudaHostGetDevicePointer(&on_device, p, 0));
    if (on_device != p) fail("this GPU maps registered host memory at another address; set data.residence to \"device\"");
    return registration;
  }
  settle_for_pageable(bytes, "set data.residence to \"device\"");
  return nullptr;
}

std::pair<size_t, size_t> device_memory_info() {
  size_t free_bytes = 0, total_bytes = 0;
  MDCSRN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {free_bytes, total_bytes};
}

}  // namespace mdcsrn::detail
