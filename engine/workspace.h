#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/memory.h"

namespace mdcsrn {

// Scratch memory handed out by bumping an offset. Sized once at set-up; take() never allocates,
// and reset() makes the whole capacity available again (e.g. at the start of each step).
class Workspace {
 public:
  static constexpr size_t kAlignment = 256;

  Workspace(MemoryKind kind, size_t capacity_bytes);

  template <class T>
  T* take(int64_t count) {
    return static_cast<T*>(take_bytes(sizeof(T) * size_t(count)));
  }
  void* take_bytes(size_t bytes);
  void reset() { used_ = 0; }

  size_t capacity() const { return size_t(storage_.size()); }
  size_t used() const { return used_; }
  size_t high_water() const { return high_water_; }
  MemoryKind kind() const { return storage_.kind(); }

 private:
  Buffer<unsigned char> storage_;
  size_t used_ = 0;
  size_t high_water_ = 0;
};

}  // namespace mdcsrn
