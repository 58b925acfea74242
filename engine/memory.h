#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace mdcsrn {

// Pinned: host memory that kernels read directly over the bus, pinned in place (pin_host_memory:
// page-locked and mapped; the training data of `data.residence` "host"); it is never allocated as
// such. Copies treat it as host memory.
enum class MemoryKind { Host, Device, Pinned };

// Raw allocation on either side. Device calls throw an Error in a build without CUDA, and name
// the request when the GPU is out of memory. Device copies and fills first wait for all queued GPU
// work and are complete when they return: they never race a kernel, and never belong in a hot loop.
void* raw_alloc(MemoryKind kind, size_t bytes);
void raw_free(MemoryKind kind, void* p) noexcept;
void raw_copy(MemoryKind dst_kind, void* dst, MemoryKind src_kind, const void* src, size_t bytes);
void raw_zero(MemoryKind kind, void* p, size_t bytes);
// Host memory (a buffer, an MPI shared window) made readable by kernels: page-locked and mapped in
// place, or, where the system refuses to pin it, left pageable with a one-line note if the GPU
// reads pageable memory (HMM), else an Error; unpinned when the handle is released (before the
// memory is freed). Nothing to do in a build without CUDA. Large host buffers start on a page.
std::shared_ptr<void> pin_host_memory(void* p, size_t bytes);
// Free and total memory of the current GPU, in bytes ({0, 0} without one).
std::pair<size_t, size_t> device_memory_info();

// An owning, move-only array of T on the host or the device.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(MemoryKind kind, int64_t count)
      : kind_(kind), count_(count), data_(static_cast<T*>(raw_alloc(kind, sizeof(T) * size_t(count)))) {}
  ~Buffer() { raw_free(kind_, data_); }
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer(std::move(o)).swap(*this);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* data() const { return data_; }
  int64_t size() const { return count_; }
  MemoryKind kind() const { return kind_; }

  void zero() { raw_zero(kind_, data_, bytes()); }
  void upload(const T* host) { raw_copy(kind_, data_, MemoryKind::Host, host, bytes()); }
  void upload(const std::vector<T>& host) { upload(host.data()); }
  std::vector<T> download() const {
    std::vector<T> out(static_cast<size_t>(count_));
    raw_copy(MemoryKind::Host, out.data(), kind_, data_, bytes());
    return out;
  }

 private:
  size_t bytes() const { return sizeof(T) * size_t(count_); }
  void swap(Buffer& o) noexcept {
    std::swap(kind_, o.kind_);
    std::swap(count_, o.count_);
    std::swap(data_, o.data_);
  }
  MemoryKind kind_ = MemoryKind::Host;
  int64_t count_ = 0;
  T* data_ = nullptr;
};

}  // namespace mdcsrn
