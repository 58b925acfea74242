#pragma once
// Stackful coroutines for the SIMT emulator. Every emulated GPU thread runs on a fiber of its own,
// so that a kernel body can stop at a barrier or a warp collective and resume there later, as a
// thread does on the device. Switching is a few instructions (callee-saved registers and the stack
// pointer), about a hundred times cheaper than swapcontext, which makes a system call per switch.
#include <cstddef>

namespace mdcsrn::simt {

// A fiber's stack, mapped with an inaccessible guard page below it so that an overflow faults
// instead of corrupting a neighbour.
class FiberStack {
 public:
  explicit FiberStack(size_t bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  void* bottom() const { return usable_; }
  size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;
  void* usable_ = nullptr;
  size_t mapped_ = 0, size_ = 0;
};

// One coroutine. The scheduler calls resume(); the fiber runs entry(arg) until it calls yield()
// or entry returns.
class Fiber {
 public:
  using Entry = void (*)(void*);

  // Prepares the fiber to start entry(arg) on `stack` at its next resume(). The stack's previous
  // fiber, if any, must have finished.
  void start(FiberStack& stack, Entry entry, void* arg);
  void resume();
  void yield();
  bool finished() const { return finished_; }

 private:
  static void trampoline();
  void* sp_ = nullptr;         // the fiber's saved stack pointer while it is not running
  void* caller_sp_ = nullptr;  // the scheduler's while the fiber runs
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
  FiberStack* stack_ = nullptr;
  bool finished_ = false;
  // Address-sanitizer bookkeeping of the two stacks (unused without the sanitizer).
  void* fake_stack_ = nullptr;
  const void* caller_bottom_ = nullptr;
  size_t caller_size_ = 0;
};

}  // namespace mdcsrn::simt
