// Host side of raw memory; the device side is in memory_cuda.cpp or memory_no_cuda.cpp.
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "engine/memory.h"

namespace mdcsrn {
namespace detail {
void* device_alloc(size_t bytes);
void device_free(void* p) noexcept;
void device_copy(MemoryKind dst_kind, void* dst, MemoryKind src_kind, const void* src, size_t bytes);
void device_zero(void* p, size_t bytes);
std::pair<size_t, size_t> device_memory_info();
std::shared_ptr<void> pin_host_memory(void* p, size_t bytes);
}  // namespace detail

namespace {
constexpr size_t kHostAlignment = 256;  // as cudaMalloc, so workspace offsets align alike
// Large buffers start on a page, so that they can be pinned in place (pin_host_memory).
constexpr size_t kPageAlignment = 4096, kPageAlignedFrom = size_t(1) << 20;
}

void* raw_alloc(MemoryKind kind, size_t bytes) {
  if (bytes == 0) return nullptr;
  if (kind == MemoryKind::Device) return detail::device_alloc(bytes);
  MDCSRN_ASSERT(kind != MemoryKind::Pinned, "memory: pinned memory is host memory pinned in place (pin_host_memory), not allocated");
  const size_t alignment = bytes >= kPageAlignedFrom ? kPageAlignment : kHostAlignment;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
  if (!p) fail("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void raw_free(MemoryKind kind, void* p) noexcept {
  if (!p) return;
  if (kind == MemoryKind::Device)
    detail::device_free(p);
  else
    std::free(p);
}

void raw_copy(MemoryKind dst_kind, void* dst, MemoryKind src_kind, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (dst_kind != MemoryKind::Device && src_kind != MemoryKind::Device)
    std::memcpy(dst, src, bytes);
  else
    detail::device_copy(dst_kind, dst, src_kind, src, bytes);
}

std::pair<size_t, size_t> device_memory_info() { return detail::device_memory_info(); }
std::shared_ptr<void> pin_host_memory(void* p, size_t bytes) { return detail::pin_host_memory(p, bytes); }

void raw_zero(MemoryKind kind, void* p, size_t bytes) {
  if (bytes == 0) return;
  if (kind == MemoryKind::Device)
    detail::device_zero(p, bytes);
  else
    std::memset(p, 0, bytes);
}

}  // namespace mdcsrn
