#include "kernels/simt/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "engine/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define MDCSRN_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MDCSRN_FIBER_ASAN 1
#endif
#endif

#ifdef MDCSRN_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#error "the SIMT emulator's fiber switch is written for x86-64 (System V ABI)"
#endif

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *save_sp, loads load_sp and restores the same set from there: the two
// stacks exchange control as if each had called this function.
extern "C" void mdcsrn_simt_switch(void** save_sp, void* load_sp);
asm(R"(
  .pushsection .text
  .globl mdcsrn_simt_switch
  .type mdcsrn_simt_switch, @function
  .p2align 4
mdcsrn_simt_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size mdcsrn_simt_switch, .-mdcsrn_simt_switch
  .popsection
)");

namespace mdcsrn::simt {
namespace {

thread_local Fiber* starting = nullptr;  // the fiber a first resume() enters, read by the trampoline

size_t page_size() { return size_t(sysconf(_SC_PAGESIZE)); }

}  // namespace

FiberStack::FiberStack(size_t bytes) {
  const size_t page = page_size();
  size_ = (bytes + page - 1) / page * page;
  mapped_ = size_ + page;
  mapping_ = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping_ == MAP_FAILED) fail("SIMT emulator: cannot map a fiber stack of " + std::to_string(size_) + " bytes");
  if (mprotect(mapping_, page, PROT_NONE) != 0) fail("SIMT emulator: cannot protect a fiber stack's guard page");
  usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() {
  if (mapping_) munmap(mapping_, mapped_);
}

void Fiber::start(FiberStack& stack, Entry entry, void* arg) {
#ifdef MDCSRN_FIBER_ASAN
  // The trampoline never returns, so its frame's redzones stay poisoned at the stack's top.
  const size_t stale = std::min<size_t>(stack.size(), 4096);
  __asan_unpoison_memory_region(static_cast<char*>(stack.bottom()) + stack.size() - stale, stale);
#endif
  entry_ = entry;
  arg_ = arg;
  stack_ = &stack;
  finished_ = false;
  fake_stack_ = nullptr;
  // The frame mdcsrn_simt_switch pops: control words, six registers, then the trampoline as the
  // return address, above which a null slot keeps the trampoline's entry 16-byte aligned + 8.
  const auto top = (reinterpret_cast<uintptr_t>(stack.bottom()) + stack.size()) & ~uintptr_t(15);
  auto* slots = reinterpret_cast<uint64_t*>(top) - 10;
  std::memset(slots, 0, 10 * sizeof(uint64_t));
  uint32_t mxcsr = 0;
  uint16_t fpcw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpcw));
  std::memcpy(&slots[0], &fpcw, sizeof fpcw);
  std::memcpy(&slots[1], &mxcsr, sizeof mxcsr);
  slots[8] = reinterpret_cast<uint64_t>(&Fiber::trampoline);
  sp_ = slots;
}

void Fiber::resume() {
  starting = this;
#ifdef MDCSRN_FIBER_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack_->bottom(), stack_->size());
#endif
  mdcsrn_simt_switch(&caller_sp_, sp_);
#ifdef MDCSRN_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void Fiber::yield() {
#ifdef MDCSRN_FIBER_ASAN
  __sanitizer_start_switch_fiber(&fake_stack_, caller_bottom_, caller_size_);
#endif
  mdcsrn_simt_switch(&sp_, caller_sp_);
#ifdef MDCSRN_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_, &caller_bottom_, &caller_size_);
#endif
}

void Fiber::trampoline() {
  Fiber* self = starting;
#ifdef MDCSRN_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->caller_bottom_, &self->caller_size_);
#endif
  self->entry_(self->arg_);
  self->finished_ = true;
#ifdef MDCSRN_FIBER_ASAN
  __sanitizer_start_switch_fiber(nullptr, self->caller_bottom_, self->caller_size_);
#endif
  void* discarded = nullptr;
  mdcsrn_simt_switch(&discarded, self->caller_sp_);
  __builtin_unreachable();
}

}  // namespace mdcsrn::simt
