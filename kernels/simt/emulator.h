#pragma once
// The SIMT emulator: runs the grid of a kernel written over simt.h on the CPU. A block's threads
// are fibers on one CPU thread, run in index order until each waits at a barrier or in a warp
// collective, exits or faults; blocks run in parallel on the CPU threads. What it checks, and
// reports as an Error naming the launch site, the block and the thread:
// - shared memory: accesses outside the launch's dynamic shared memory or outside a typed window,
//   misaligned windows, reads of bytes never written in this block, and races: a 2-byte granule
//   written by one thread and read or written by another between the same two barriers, unless
//   the two are lanes of one warp that both took part in a __syncwarp between the accesses;
// - barriers that the block's threads reach at different places, deadlocks (lanes that never
//   join a collective, mismatched masks);
// - warp collectives: a lane outside its own mask, a shuffle reading a lane that is not in the
//   mask or has exited, an exited lane in an .aligned collective (mma, ldmatrix); shuffles, votes
//   and __syncwarp wait only for the lanes of their mask that have not exited, as on the device;
// - cp.async: a destination another thread of the epoch accesses, or that anyone touches before
//   the wait, a source that changes before the wait, copies never waited for;
// - misaligned 16-byte global accesses.
// Out-of-bounds global accesses are left to AddressSanitizer, which the emulator's tests build with.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>
#include <vector>

#include "engine/memory.h"
#include "kernels/simt/counters.h"
#include "kernels/simt/launch_config.h"

namespace mdcsrn::simt {

// The emulator's stand-in for CudaContext: what launchers need from a device context (scratch
// memory, synchronisation, the TF32 switch), with host memory as its "device" memory.
class Emulator {
 public:
  static constexpr MemoryKind memory = MemoryKind::Host;

  Emulator() = default;
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  void synchronize() const {}
  void zero(void* p, size_t bytes) const;
  bool tf32() const { return false; }
  void* scratch(size_t bytes);

  // Runs body() as every thread of every block of the grid; throws the first fault, by block order.
  // `kernel` (the kernel function's address, when launched through simt::launch) goes into the
  // launch's counts, for a report to name the kernel.
  void run(const LaunchConfig& config, const std::function<void()>& body, const void* kernel = nullptr);

  // Counting (counters.h), off by default: while on, every launch appends its counts.
  void count_launches(bool on) { counting_ = on; }
  const std::vector<LaunchCounts>& launch_counts() const { return counts_; }
  void clear_launch_counts() { counts_.clear(); }
  // While counting, run only `blocks` of each larger grid, spread evenly over it (0: every block):
  // counts of a kernel whose blocks do alike work, at sizes too large to emulate whole. The other
  // blocks' outputs are not written, so it is for counting alone.
  void sample_blocks(int blocks) { sampled_blocks_ = blocks; }

 private:
  std::vector<unsigned char> scratch_;
  bool counting_ = false;
  int sampled_blocks_ = 0;
  std::vector<LaunchCounts> counts_;
};

// The interface simt.h and tensor_core.h use on the host. Everything here is called from inside
// an emulated thread.
namespace emulator {

struct ThreadView {
  Dim3 thread_idx, block_idx, block_dim, grid_dim;
  int linear = 0;  // linear thread index within the block
};
const ThreadView& current();

[[noreturn]] void fault(const std::string& what);
[[noreturn]] void fault_out_of_bounds(const char* what, int64_t index, int64_t count);

void barrier(const std::source_location& where);
void sync_warp(unsigned mask);

enum class ShuffleMode { Index, Up, Down, Xor };
uint64_t shuffle(unsigned mask, uint64_t value, ShuffleMode mode, int operand, int width);
unsigned ballot(unsigned mask, bool predicate);

// A warp collective beyond shuffles and votes (ldmatrix, mma): every lane of `mask` deposits its
// operands; the last to arrive runs compute over the deposits of the lanes present (the mask less
// lanes that have exited; none may have for `aligned` ones), then each receives its own result.
// Lanes agree on `compute` (the same instruction).
struct LaneOperands {
  uint32_t word[16] = {};
};
struct LaneResult {
  uint32_t word[8] = {};
};
using CollectiveCompute = void (*)(unsigned mask, const LaneOperands* operands, LaneResult* results);
LaneResult collective(unsigned mask, CollectiveCompute compute, const LaneOperands& mine, bool aligned);

// Shared memory. `thread` is the linear index of the thread the access is attributed to (ldmatrix
// reads rows on behalf of the lanes that supplied their addresses); -1 means the calling thread.
void check_shared_window(size_t byte_offset, size_t bytes, size_t alignment);
void shared_read(size_t byte_offset, size_t bytes, void* out, int thread = -1);
void shared_write(size_t byte_offset, size_t bytes, const void* in, int thread = -1);
int warp_thread(unsigned lane);  // linear index of `lane` of the calling thread's warp

// Asynchronous copies into shared memory, per thread, in commit groups as cp.async.
void async_copy(size_t shared_byte, const void* global, int bytes, int source_bytes, const std::source_location& where);
void async_commit();
void async_wait(int pending_groups_allowed);

void check_global_alignment(const void* p, size_t alignment);

// Counting (Emulator::count_launches): each call is one lane's part of a warp-wide access at
// `where`; the mma and ldmatrix hooks are called once per warp instruction, from its compute.
bool counting();
void count_shared(SharedAccess kind, size_t byte_offset, int bytes, const std::source_location& where);
void count_global(GlobalAccess kind, const void* p, int bytes, const std::source_location& where);
void count_ldmatrix(const std::vector<LaneAccess>& rows, int matrices);
void count_mma();

}  // namespace emulator
}  // namespace mdcsrn::simt
