#include <string>

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
  const cudaMemcpyKind direction = dst_kind == MemoryKind::Device
                                       ? (src_kind == MemoryKind::Device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                       : cudaMemcpyDeviceToHost;
  MDCSRN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, direction));
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
}

void device_zero(void* p, size_t bytes) {
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
  MDCSRN_CUDA_CHECK(cudaMemset(p, 0, bytes));
  MDCSRN_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace mdcsrn::detail
