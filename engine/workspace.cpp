#include "engine/workspace.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace mdcsrn {

Workspace::Workspace(MemoryKind kind, size_t capacity_bytes) : storage_(kind, int64_t(capacity_bytes)) {}

void* Workspace::take_bytes(size_t bytes) {
  const size_t start = (used_ + kAlignment - 1) / kAlignment * kAlignment;
  if (start + bytes > capacity())
    fail("workspace exhausted: " + std::to_string(bytes) + " bytes requested with " + std::to_string(used_) +
         " of " + std::to_string(capacity()) + " in use");
  used_ = start + bytes;
  high_water_ = std::max(high_water_, used_);
  return storage_.data() + start;
}

}  // namespace mdcsrn
