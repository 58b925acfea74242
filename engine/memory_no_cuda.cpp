#include "engine/error.h"
#include "engine/memory.h"

#include <memory>
#include <utility>

namespace mdcsrn::detail {

namespace {
[[noreturn]] void no_device() { fail("GPU memory requested, but this build has no CUDA backend (MDCSRN_CUDA=OFF)"); }
}  // namespace

void* device_alloc(size_t) { no_device(); }
void device_free(void*) noexcept {}
void device_copy(MemoryKind, void*, MemoryKind, const void*, size_t) { no_device(); }
void device_zero(void*, size_t) { no_device(); }
std::pair<size_t, size_t> device_memory_info() { return {0, 0}; }
std::shared_ptr<void> pin_host_memory(void*, size_t) { return nullptr; }

}  // namespace mdcsrn::detail
