#include "engine/error.h"
#include "engine/memory.h"

namespace mdcsrn::detail {

namespace {
[[noreturn]] void no_device() { fail("GPU memory requested, but this build has no CUDA backend (MDCSRN_CUDA=OFF)"); }
}  // namespace

void* device_alloc(size_t) { no_device(); }
void device_free(void*) noexcept {}
void device_copy(MemoryKind, void*, MemoryKind, const void*, size_t) { no_device(); }
void device_zero(void*, size_t) { no_device(); }

}  // namespace mdcsrn::detail
