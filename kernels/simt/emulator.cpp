#include "kernels/simt/emulator.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <tuple>
#include <unordered_set>

#include "engine/error.h"
#include "engine/parallel.h"
#include "kernels/simt/fiber.h"

namespace mdcsrn::simt {
namespace {

constexpr size_t kStackBytes = size_t(256) << 10;
constexpr unsigned long long kMaxBlockThreads = 1024;
constexpr size_t kMaxSharedBytes = 227 * 1024;  // sm_90's largest dynamic shared memory per block
constexpr size_t kGranule = 2;                   // bytes per race-tracking entry: bf16 and fp16 stores are 2 bytes
constexpr int16_t kManyReaders = -2;
constexpr int16_t kManyWarps = -2;

enum class Status { Ready, AtBarrier, InCollective, Done };

// Thrown in an emulated thread to end it: by the thread that faults, and by every other thread of
// a faulted block when it is resumed, so that each fiber unwinds its own stack (destructors run,
// nothing is left behind) instead of being abandoned mid-call.
struct Cancelled {};

struct PendingCopy {
  size_t shared_byte;
  const void* source;
  int bytes, source_bytes;
  unsigned char issued[16];  // the source as it was at issue: it must not change before the wait
};

struct EmulatedThread {
  emulator::ThreadView view;
  Fiber fiber;
  Status status = Status::Ready;
  bool started = false;
  std::source_location barrier_site;
  unsigned mask = 0;
  emulator::CollectiveCompute compute = nullptr;
  bool aligned = false;
  emulator::LaneOperands operands;
  emulator::LaneResult result;
  std::vector<PendingCopy> uncommitted;
  std::deque<std::vector<PendingCopy>> committed;
  std::map<std::tuple<const char*, uint32_t, uint32_t, int>, uint32_t> passes;  // counting: times past each access site
};

// Counting: one warp-wide access is the lanes of one warp at one site (kind, file, line, column),
// each on its k-th pass there.
struct AccessKey {
  int warp, kind, bytes;
  const char* file;
  uint32_t line, column, pass;
  auto tie() const { return std::tie(warp, kind, bytes, file, line, column, pass); }
  bool operator<(const AccessKey& o) const { return tie() < o.tie(); }
};
constexpr int kGlobalKind = 16;  // AccessKey::kind: SharedAccess values, or kGlobalKind + a GlobalAccess

// What the race check knows of one 2-byte granule of shared memory. Epochs count the block's
// barriers, serials its completed __syncwarps; neither restarts (a block's first epoch is one past
// the previous block's last), so nothing needs clearing between blocks.
struct Granule {
  uint32_t write_epoch = 0, read_epoch = 0;
  uint32_t write_serial = 0, read_serial = 0;  // the syncwarp serial when written, when last read
  int16_t writer = -1, reader = -1;             // reader: kManyReaders once several threads read
  int16_t read_warp = -1;                       // the readers' warp, kManyWarps if several
  uint32_t reader_lanes = 0;                    // and their lanes in it
  int16_t async_writer = -1;                    // a thread whose cp.async into this granule is pending
};

// The state of the block a CPU thread is running. One per CPU thread, reused block after block.
struct BlockRun {
  const LaunchConfig* config = nullptr;
  const std::function<void()>* body = nullptr;
  Dim3 block_idx;
  std::vector<EmulatedThread> threads;
  // pair_sync[(warp * 32 + i) * 32 + j]: the serial of the last __syncwarp lanes i and j both took part in.
  std::vector<uint32_t> pair_sync;
  uint32_t sync_serial = 0;
  // Per warp, the lanes waiting in a collective (status InCollective): lets an arriving lane see
  // in one step that the collective cannot complete yet.
  std::vector<uint32_t> collective_waiters;
  std::vector<unsigned char> shared;
  std::vector<Granule> granules;
  uint32_t epoch = 0, first_epoch = 0;
  // Granules read before any thread of the block wrote them, with their readers: a fault at the
  // epoch's end, unless a thread's write in the same epoch shows the race behind it first.
  std::vector<std::pair<size_t, int>> unwritten_reads;
  std::string error;
  bool cancelling = false;
  EmulatedThread* running = nullptr;
  std::vector<std::unique_ptr<FiberStack>> stacks;
  // Counting: this epoch's accesses, costed when it ends, and the blocks' totals.
  bool counting = false;
  std::map<AccessKey, std::vector<LaneAccess>> accesses;
  std::unordered_set<uint64_t> sectors_read;  // global sectors this block has loaded (its L1, as counted)
  LaunchCounts counts;
};

thread_local BlockRun* active = nullptr;

std::string dim_str(const Dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

std::string thread_str(const BlockRun& b, int linear) {
  return "thread " + dim_str(b.threads[size_t(linear)].view.thread_idx) + " (linear " + std::to_string(linear) + ")";
}

std::string describe(const BlockRun& b, const EmulatedThread* t, const std::string& what) {
  std::ostringstream s;
  s << "SIMT emulator: " << what << " [kernel launched at " << b.config->where.file_name() << ":" << b.config->where.line()
    << ", block " << dim_str(b.block_idx);
  if (t) s << ", " << thread_str(b, t->view.linear);
  s << "]";
  return s.str();
}

BlockRun& block() {
  if (!active || !active->running) fail("SIMT emulator: a kernel primitive was called outside an emulated kernel");
  return *active;
}

std::string hex(unsigned v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// Records the block's first fault.
void record_fault(BlockRun& b, const EmulatedThread* t, const std::string& what) {
  if (b.error.empty()) b.error = describe(b, t, what);
}

bool pending_copies(const EmulatedThread& t) {
  if (!t.uncommitted.empty()) return true;
  for (const std::vector<PendingCopy>& group : t.committed)
    if (!group.empty()) return true;
  return false;
}

void complete_collectives_after_exit(BlockRun& b, const EmulatedThread& exited);

void thread_main(void* arg) {
  auto* t = static_cast<EmulatedThread*>(arg);
  BlockRun& b = *active;
  try {
    (*b.body)();
    if (pending_copies(*t)) emulator::fault("the thread exited with cp.async copies it never waited for");
    t->status = Status::Done;
    complete_collectives_after_exit(b, *t);  // shuffles, votes and __syncwarp wait only for lanes that have not exited
  } catch (const Cancelled&) {
  } catch (const std::exception& e) {
    record_fault(b, t, std::string("the kernel threw: ") + e.what());
  }
  t->status = Status::Done;
}

// Ends every thread of a faulted block: each that has started resumes, throws Cancelled from the
// primitive it waits in, and unwinds; those that never ran are not started.
void cancel(BlockRun& b) {
  b.cancelling = true;
  for (EmulatedThread& t : b.threads) {
    if (t.status == Status::Done) continue;
    if (!t.started) {
      t.status = Status::Done;
      continue;
    }
    b.running = &t;
    t.fiber.resume();
    b.running = nullptr;
  }
  b.cancelling = false;
  for (Granule& g : b.granules) g.async_writer = -1;
}

// After a wait: the thread goes on, unless its block faulted meanwhile.
void resume_point(const BlockRun& b) {
  if (b.cancelling) throw Cancelled{};
}

void check_unwritten_reads(BlockRun& b) {
  if (b.unwritten_reads.empty() || !b.error.empty()) return;
  const auto [granule, reader] = b.unwritten_reads.front();
  b.error = describe(b, &b.threads[size_t(reader)],
                     "read of shared byte " + std::to_string(granule * kGranule) + ", which no thread of this block had written");
}

// Costs the epoch's warp-wide accesses into the block's counts.
void cost_accesses(BlockRun& b) {
  for (const auto& [key, lanes] : b.accesses) {
    if (key.kind >= kGlobalKind) {
      Sectors s = global_access_sectors(lanes);
      if (key.kind - kGlobalKind == int(GlobalAccess::Load)) {
        for (const uint64_t sector : sectors_touched(lanes)) s.l2 += b.sectors_read.insert(sector).second ? 1 : 0;
      } else {
        s.l2 = s.actual;
      }
      b.counts.global[key.kind - kGlobalKind].add(s);
    }
    else
      b.counts.shared[key.kind].add(shared_access_wavefronts(lanes, key.bytes));
  }
  b.accesses.clear();
}

void release_barrier(BlockRun& b) {
  check_unwritten_reads(b);
  if (!b.error.empty()) return;
  if (b.counting) {
    cost_accesses(b);
    b.counts.barriers += int64_t((b.threads.size() + 31) / 32);
  }
  const EmulatedThread* first = nullptr;
  for (const EmulatedThread& t : b.threads) {
    if (t.status != Status::AtBarrier) continue;
    if (!first) {
      first = &t;
    } else if (t.barrier_site.line() != first->barrier_site.line() ||
               std::strcmp(t.barrier_site.file_name(), first->barrier_site.file_name()) != 0) {
      b.error = describe(b, nullptr,
                         "threads wait at different barriers: " + thread_str(b, first->view.linear) + " at line " +
                             std::to_string(first->barrier_site.line()) + ", " + thread_str(b, t.view.linear) + " at line " +
                             std::to_string(t.barrier_site.line()));
      return;
    }
  }
  ++b.epoch;
  b.unwritten_reads.clear();
  for (EmulatedThread& t : b.threads)
    if (t.status == Status::AtBarrier) t.status = Status::Ready;
}

std::string deadlock_report(const BlockRun& b) {
  int at_barrier = 0, in_collective = 0;
  const EmulatedThread* example = nullptr;
  for (const EmulatedThread& t : b.threads) {
    if (t.status == Status::AtBarrier) ++at_barrier;
    if (t.status != Status::InCollective) continue;
    ++in_collective;
    if (!example) example = &t;
  }
  std::string what = "deadlock: " + std::to_string(at_barrier) + " threads wait at a barrier and " +
                     std::to_string(in_collective) + " in warp collectives";
  if (example) what += " (" + thread_str(b, example->view.linear) + " waits with mask " + hex(example->mask) + ")";
  return what;
}

void run_block(BlockRun& b) {
  const size_t count = b.threads.size();
  b.error.clear();
  b.unwritten_reads.clear();
  b.first_epoch = b.epoch = b.epoch + 1;
  std::fill(b.collective_waiters.begin(), b.collective_waiters.end(), 0u);
  const Dim3 dim = b.config->block;
  for (size_t i = 0; i < count; ++i) {
    EmulatedThread& t = b.threads[i];
    const unsigned linear = unsigned(i);
    t.view = emulator::ThreadView{Dim3(linear % dim.x, linear / dim.x % dim.y, linear / (dim.x * dim.y)), b.block_idx, dim,
                                  b.config->grid, int(linear)};
    t.status = Status::Ready;
    t.started = false;
    t.uncommitted.clear();
    t.committed.clear();
    t.passes.clear();
    t.fiber.start(*b.stacks[i], &thread_main, &t);
  }
  for (;;) {
    bool ran = false;
    for (EmulatedThread& t : b.threads) {
      if (t.status != Status::Ready) continue;
      b.running = &t;
      t.started = true;
      t.fiber.resume();
      b.running = nullptr;
      ran = true;
      if (!b.error.empty()) return cancel(b);
    }
    if (ran) continue;
    size_t done = 0, at_barrier = 0;
    for (const EmulatedThread& t : b.threads) {
      done += t.status == Status::Done;
      at_barrier += t.status == Status::AtBarrier;
    }
    if (done == count) {
      if (b.counting) cost_accesses(b);
      return check_unwritten_reads(b);
    }
    // Threads that exited do not hold a barrier back (sm_70 and later); the rest must all be there.
    if (at_barrier + done == count) {
      release_barrier(b);
      if (!b.error.empty()) return cancel(b);
      continue;
    }
    b.error = describe(b, nullptr, deadlock_report(b));
    return cancel(b);
  }
}

BlockRun& block_run_for(const LaunchConfig& config, const std::function<void()>& body) {
  thread_local BlockRun run;
  const size_t threads = size_t(config.block.volume());
  if (run.threads.size() != threads) run.threads = std::vector<EmulatedThread>(threads);
  while (run.stacks.size() < threads) run.stacks.push_back(std::make_unique<FiberStack>(kStackBytes));
  if (run.pair_sync.size() < (threads + 31) / 32 * 1024) run.pair_sync.resize((threads + 31) / 32 * 1024, 0u);
  run.collective_waiters.resize((threads + 31) / 32);
  run.shared.resize(config.shared_bytes);
  if (run.granules.size() < (config.shared_bytes + kGranule - 1) / kGranule)
    run.granules.resize((config.shared_bytes + kGranule - 1) / kGranule);
  run.config = &config;
  run.body = &body;
  return run;
}

// --- shared memory ---------------------------------------------------------------------------

// Two accesses of one epoch are ordered when made by one thread, or by two lanes of one warp that
// both took part in a __syncwarp after the earlier access (made at syncwarp serial `serial`).
bool ordered(const BlockRun& b, int earlier, uint32_t serial, int later) {
  if (earlier == later) return true;
  if (earlier / 32 != later / 32) return false;
  return b.pair_sync[(size_t(earlier) / 32 * 32 + size_t(earlier) % 32) * 32 + size_t(later) % 32] > serial;
}

// Whether every read of this epoch happened before `thread`'s write, by itself or by lanes of its
// warp that synchronised with it since.
bool reads_ordered(const BlockRun& b, const Granule& s, int thread) {
  if (s.read_epoch != b.epoch || s.reader == thread) return true;
  if (s.reader != kManyReaders) return ordered(b, s.reader, s.read_serial, thread);
  if (s.read_warp != thread / 32) return false;
  for (int lane = 0; lane < 32; ++lane)
    if (((s.reader_lanes >> lane) & 1u) && !ordered(b, thread / 32 * 32 + lane, s.read_serial, thread)) return false;
  return true;
}

std::string readers_str(const BlockRun& b, const Granule& s) {
  return s.reader == kManyReaders ? std::string("several threads") : thread_str(b, s.reader);
}

void check_shared_range(const BlockRun& b, size_t byte, size_t bytes, const char* what) {
  const size_t limit = b.config->shared_bytes;
  if (byte > limit || bytes > limit - byte)
    emulator::fault(std::string(what) + " of " + std::to_string(bytes) + " bytes at shared byte " + std::to_string(byte) +
                    " is outside the launch's " + std::to_string(limit) + " bytes");
}

// The write-side race check of `thread` writing granule g now.
void check_write(const BlockRun& b, const Granule& s, size_t g, int thread) {
  const std::string where = "shared byte " + std::to_string(g * kGranule);
  if (s.write_epoch == b.epoch && !ordered(b, s.writer, s.write_serial, thread))
    emulator::fault("shared-memory race: " + where + " written by " + thread_str(b, s.writer) + " and by " + thread_str(b, thread) +
                    " with no barrier between");
  if (!reads_ordered(b, s, thread))
    emulator::fault("shared-memory race: " + where + " read by " + readers_str(b, s) + " and then written by " + thread_str(b, thread) +
                    " with no barrier between");
}

void shared_access(size_t byte, size_t bytes, bool write, int thread) {
  BlockRun& b = block();
  if (thread < 0) thread = b.running->view.linear;
  check_shared_range(b, byte, bytes, write ? "shared-memory write" : "shared-memory read");
  for (size_t g = byte / kGranule; g < (byte + bytes + kGranule - 1) / kGranule; ++g) {
    Granule& s = b.granules[g];
    if (s.async_writer >= 0)
      emulator::fault(std::string(write ? "write to" : "read of") + " shared byte " + std::to_string(g * kGranule) +
                      " while a cp.async of " + thread_str(b, s.async_writer) + " into it is pending");
    if (write) {
      check_write(b, s, g, thread);
      s.write_epoch = b.epoch;
      s.writer = int16_t(thread);
      s.write_serial = b.sync_serial;
      continue;
    }
    if (s.write_epoch < b.first_epoch) b.unwritten_reads.emplace_back(g, thread);
    if (s.write_epoch == b.epoch && !ordered(b, s.writer, s.write_serial, thread))
      emulator::fault("shared-memory race: shared byte " + std::to_string(g * kGranule) + " written by " + thread_str(b, s.writer) +
                      " and read by " + thread_str(b, thread) + " with no barrier between");
    const int16_t warp = int16_t(thread / 32);
    if (s.read_epoch != b.epoch) {
      s.read_epoch = b.epoch;
      s.reader = int16_t(thread);
      s.read_warp = warp;
      s.reader_lanes = 0;
    } else if (s.reader != thread) {
      s.reader = kManyReaders;
    }
    if (s.read_warp != warp) s.read_warp = kManyWarps;
    s.reader_lanes |= 1u << (thread % 32);
    s.read_serial = b.sync_serial;
  }
}

// --- warp collectives ------------------------------------------------------------------------

void check_mask(const BlockRun& b, unsigned mask, int linear) {
  const unsigned my_lane = unsigned(linear) % 32;
  if (!((mask >> my_lane) & 1u)) emulator::fault("warp collective: the calling lane is not in its mask " + hex(mask));
  const size_t lanes_here = std::min<size_t>(32, b.threads.size() - (size_t(linear) - my_lane));
  const unsigned missing = lanes_here == 32 ? 0u : mask & ~((1u << lanes_here) - 1u);
  if (missing != 0)
    emulator::fault("warp collective: mask " + hex(mask) + " names lane " + std::to_string(std::countr_zero(missing)) +
                    ", which this block does not have");
}

// Every pair of the participating lanes is ordered from here on.
void syncwarp_compute(unsigned mask, const emulator::LaneOperands*, emulator::LaneResult*) {
  BlockRun& b = block();
  const uint32_t serial = ++b.sync_serial;
  const size_t base = size_t(b.running->view.linear) / 32 * 32;
  for (unsigned i = 0; i < 32; ++i)
    for (unsigned j = 0; j < 32; ++j)
      if (((mask >> i) & 1u) && ((mask >> j) & 1u)) b.pair_sync[(base + i) * 32 + j] = serial;
}

// Completes the collective that lane `waiting` of the warp at `base` waits in, if every lane of
// its mask has arrived; lanes that have exited do not take part (shuffles, votes, __syncwarp),
// except in .aligned instructions (mma, ldmatrix), where an exited lane is a fault.
void try_complete(BlockRun& b, size_t base, const EmulatedThread& waiting) {
  const unsigned mask = waiting.mask;
  uint32_t& waiters = b.collective_waiters[base / 32];
  // The scan below would return at the lowest lane of the mask that is not waiting, unless it has
  // exited: every lane under it is waiting, so none of them can fault first.
  const unsigned absent = mask & ~waiters;
  if (absent != 0 && b.threads[base + size_t(std::countr_zero(absent))].status != Status::Done) return;
  unsigned present = 0;
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!((mask >> lane) & 1u)) continue;
    const EmulatedThread& u = b.threads[base + lane];
    if (u.status == Status::Done) {
      if (waiting.aligned) emulator::fault("warp collective with mask " + hex(mask) + ": lane " + std::to_string(lane) + " has exited");
      continue;
    }
    // A lane elsewhere (another collective, a barrier, still running) may yet arrive; if it never
    // does, the block deadlocks and that is reported.
    if (u.status != Status::InCollective || u.mask != mask || u.compute != waiting.compute) return;
    present |= 1u << lane;
  }
  if (present == 0) return;
  emulator::LaneOperands operands[32];
  emulator::LaneResult results[32];
  for (unsigned lane = 0; lane < 32; ++lane)
    if ((present >> lane) & 1u) operands[lane] = b.threads[base + lane].operands;
  waiting.compute(present, operands, results);
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!((present >> lane) & 1u)) continue;
    EmulatedThread& u = b.threads[base + lane];
    u.result = results[lane];
    u.status = Status::Ready;
  }
  waiters &= ~present;
}

void complete_collectives_after_exit(BlockRun& b, const EmulatedThread& exited) {
  const size_t base = size_t(exited.view.linear) / 32 * 32;
  for (size_t lane = 0; lane < 32 && base + lane < b.threads.size(); ++lane) {
    const EmulatedThread& u = b.threads[base + lane];
    if (u.status == Status::InCollective && ((u.mask >> (exited.view.linear % 32)) & 1u)) try_complete(b, base, u);
  }
}

}  // namespace

void Emulator::zero(void* p, size_t bytes) const { std::memset(p, 0, bytes); }

void* Emulator::scratch(size_t bytes) {
  if (bytes > scratch_.size()) scratch_.resize(bytes);
  return scratch_.data();
}

void Emulator::run(const LaunchConfig& c, const std::function<void()>& body, const void* kernel) {
  const std::string site = std::string(c.where.file_name()) + ":" + std::to_string(c.where.line());
  const unsigned long long threads = c.block.volume(), blocks = c.grid.volume();
  MDCSRN_ASSERT(threads >= 1 && threads <= kMaxBlockThreads && c.block.z <= 64,
                 "SIMT emulator: block " + dim_str(c.block) + " launched at " + site + " is not a valid CUDA block");
  MDCSRN_ASSERT(blocks >= 1 && c.grid.x < (1u << 31) && c.grid.y <= 65535 && c.grid.z <= 65535,
                 "SIMT emulator: grid " + dim_str(c.grid) + " launched at " + site + " is not a valid CUDA grid");
  MDCSRN_ASSERT(c.shared_bytes <= kMaxSharedBytes, "SIMT emulator: " + std::to_string(c.shared_bytes) +
                                                        " bytes of shared memory per block exceed sm_90's 227 KiB (" + site + ")");
  std::atomic<int64_t> first_failure{std::numeric_limits<int64_t>::max()};
  std::mutex message_lock;
  std::string message;
  LaunchCounts launch;
  launch.site = site;
  launch.kernel = kernel;
  launch.block_threads = threads;
  launch.shared_bytes = c.shared_bytes;
  launch.grid_blocks = blocks;
  const bool sampling = counting_ && sampled_blocks_ > 0 && blocks > unsigned(sampled_blocks_);
  const unsigned long long runs = sampling ? unsigned(sampled_blocks_) : blocks;
  parallel_for(int64_t(runs), 1, [&](int64_t begin, int64_t end) {
    BlockRun& b = block_run_for(c, body);
    BlockRun* outer = active;
    active = &b;
    b.counting = counting_;
    b.counts = LaunchCounts{};
    b.accesses.clear();
    for (int64_t i = begin; i < end && i < first_failure.load(); ++i) {
      const unsigned long long u = sampling ? static_cast<unsigned long long>(i) * blocks / runs : static_cast<unsigned long long>(i);
      b.block_idx = Dim3(unsigned(u % c.grid.x), unsigned(u / c.grid.x % c.grid.y), unsigned(u / (uint64_t(c.grid.x) * c.grid.y)));
      b.sectors_read.clear();
      run_block(b);
      if (!b.error.empty()) {
        std::lock_guard<std::mutex> lock(message_lock);
        if (i < first_failure.load()) {
          first_failure = i;
          message = b.error;
        }
      }
      ++b.counts.blocks;
    }
    if (b.counting) {
      std::lock_guard<std::mutex> lock(message_lock);
      launch.merge(b.counts);
    }
    active = outer;
  });
  if (!message.empty()) fail(message);
  if (counting_) counts_.push_back(launch);
}

namespace emulator {

const ThreadView& current() { return block().running->view; }

void fault(const std::string& what) {
  BlockRun& b = block();
  record_fault(b, b.running, what);
  throw Cancelled{};
}

void fault_out_of_bounds(const char* what, int64_t index, int64_t count) {
  fault(std::string(what) + " " + std::to_string(index) + " is outside [0, " + std::to_string(count) + ")");
}

void barrier(const std::source_location& where) {
  BlockRun& b = block();
  EmulatedThread& t = *b.running;
  t.barrier_site = where;
  t.status = Status::AtBarrier;
  t.fiber.yield();
  resume_point(b);
}

LaneResult collective(unsigned mask, CollectiveCompute compute, const LaneOperands& mine, bool aligned) {
  BlockRun& b = block();
  EmulatedThread& self = *b.running;
  check_mask(b, mask, self.view.linear);
  self.mask = mask;
  self.compute = compute;
  self.aligned = aligned;
  self.operands = mine;
  self.status = Status::InCollective;
  b.collective_waiters[size_t(self.view.linear) / 32] |= 1u << (self.view.linear % 32);
  try_complete(b, size_t(self.view.linear) / 32 * 32, self);
  if (self.status == Status::InCollective) {
    self.fiber.yield();
    resume_point(b);
  }
  return self.result;
}

void sync_warp(unsigned mask) { collective(mask, &syncwarp_compute, LaneOperands{}, false); }

namespace {

int power_of_two_width(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    fault("shuffle width " + std::to_string(width) + " is not a power of two in [1, 32]");
  return width;
}

// PTX shfl.sync, with c = ((32 - width) << 8) | 0x1f, as CUDA's __shfl*_sync pass it (0 clamp for up).
void shuffle_compute(unsigned mask, const LaneOperands* in, LaneResult* out) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!((mask >> lane) & 1u)) continue;
    const auto mode = static_cast<ShuffleMode>(in[lane].word[2]);
    const int b = int(in[lane].word[3]), width = int(in[lane].word[4]);
    const int segmask = (32 - width) & 0x1f, clamp = mode == ShuffleMode::Up ? 0 : 0x1f;
    const int max_lane = (int(lane) & segmask) | (clamp & ~segmask), min_lane = int(lane) & segmask;
    int j = 0;
    bool in_range = false;
    switch (mode) {
      case ShuffleMode::Up: j = int(lane) - b; in_range = j >= max_lane; break;
      case ShuffleMode::Down: j = int(lane) + b; in_range = j <= max_lane; break;
      case ShuffleMode::Xor: j = int(lane) ^ b; in_range = j <= max_lane; break;
      case ShuffleMode::Index: j = min_lane | (b & 0x1f & ~segmask); in_range = j <= max_lane; break;
    }
    if (!in_range || j < 0 || j > 31) j = int(lane);
    if (!((mask >> j) & 1u))
      fault("shuffle: lane " + std::to_string(lane) + " reads lane " + std::to_string(j) + ", which is not in the mask " + hex(mask) +
            " or has exited");
    if (in[j].word[2] != in[lane].word[2] || in[j].word[4] != in[lane].word[4])
      fault("shuffle: lanes " + std::to_string(lane) + " and " + std::to_string(j) + " use different modes or widths");
    out[lane].word[0] = in[j].word[0];
    out[lane].word[1] = in[j].word[1];
  }
}

void ballot_compute(unsigned mask, const LaneOperands* in, LaneResult* out) {
  unsigned bits = 0;
  for (unsigned lane = 0; lane < 32; ++lane)
    if (((mask >> lane) & 1u) && in[lane].word[0]) bits |= 1u << lane;
  for (unsigned lane = 0; lane < 32; ++lane) out[lane].word[0] = bits;
}

}  // namespace

uint64_t shuffle(unsigned mask, uint64_t value, ShuffleMode mode, int operand, int width) {
  LaneOperands in;
  in.word[0] = uint32_t(value);
  in.word[1] = uint32_t(value >> 32);
  in.word[2] = uint32_t(mode);
  in.word[3] = uint32_t(operand);
  in.word[4] = uint32_t(power_of_two_width(width));
  const LaneResult r = collective(mask, &shuffle_compute, in, false);
  return uint64_t(r.word[0]) | (uint64_t(r.word[1]) << 32);
}

unsigned ballot(unsigned mask, bool predicate) {
  LaneOperands in;
  in.word[0] = predicate ? 1u : 0u;
  return collective(mask, &ballot_compute, in, false).word[0];
}

void check_shared_window(size_t byte_offset, size_t bytes, size_t alignment) {
  const size_t limit = block().config->shared_bytes;
  if (byte_offset % alignment != 0)
    fault("shared-memory window at byte " + std::to_string(byte_offset) + " is not aligned to " + std::to_string(alignment));
  if (byte_offset > limit || bytes > limit - byte_offset)
    fault("shared-memory window of " + std::to_string(bytes) + " bytes at byte " + std::to_string(byte_offset) +
          " does not fit the launch's " + std::to_string(limit) + " bytes");
}

void shared_read(size_t byte_offset, size_t bytes, void* out, int thread) {
  shared_access(byte_offset, bytes, false, thread);
  std::memcpy(out, block().shared.data() + byte_offset, bytes);
}

void shared_write(size_t byte_offset, size_t bytes, const void* in, int thread) {
  shared_access(byte_offset, bytes, true, thread);
  std::memcpy(block().shared.data() + byte_offset, in, bytes);
}

int warp_thread(unsigned lane) { return block().running->view.linear / 32 * 32 + int(lane); }

void async_copy(size_t shared_byte, const void* global, int bytes, int source_bytes, const std::source_location& where) {
  BlockRun& b = block();
  EmulatedThread& t = *b.running;
  if (b.counting) {
    count_shared(SharedAccess::AsyncCopyDestination, shared_byte, bytes, where);
    if (source_bytes > 0) count_global(GlobalAccess::AsyncCopySource, global, source_bytes, where);
  }
  if (bytes != 4 && bytes != 8 && bytes != 16) fault("cp.async copies 4, 8 or 16 bytes, not " + std::to_string(bytes));
  if (source_bytes < 0 || source_bytes > bytes)
    fault("cp.async source size " + std::to_string(source_bytes) + " is outside [0, " + std::to_string(bytes) + "]");
  if (shared_byte % size_t(bytes) != 0) fault("cp.async destination byte " + std::to_string(shared_byte) + " is not aligned to its size");
  if (source_bytes > 0) check_global_alignment(global, size_t(bytes));
  const size_t limit = b.config->shared_bytes;
  if (shared_byte > limit || size_t(bytes) > limit - shared_byte)
    fault("cp.async destination byte " + std::to_string(shared_byte) + " is outside the launch's " + std::to_string(limit) + " bytes");
  for (size_t g = shared_byte / kGranule; g < (shared_byte + size_t(bytes)) / kGranule; ++g) {
    Granule& s = b.granules[g];
    if (s.async_writer >= 0) fault("cp.async into shared byte " + std::to_string(g * kGranule) + ", which another pending cp.async targets");
    check_write(b, s, g, t.view.linear);  // the copy may land at once: it must not race this epoch's accesses
    s.async_writer = int16_t(t.view.linear);
  }
  PendingCopy copy{shared_byte, global, bytes, source_bytes, {}};
  if (source_bytes > 0) std::memcpy(copy.issued, global, size_t(source_bytes));
  t.uncommitted.push_back(copy);
}

void async_commit() {
  EmulatedThread& t = *block().running;
  t.committed.push_back(std::move(t.uncommitted));
  t.uncommitted.clear();
}

void async_wait(int pending_groups_allowed) {
  BlockRun& b = block();
  EmulatedThread& t = *b.running;
  while (t.committed.size() > size_t(std::max(pending_groups_allowed, 0))) {
    for (const PendingCopy& c : t.committed.front()) {
      for (size_t g = c.shared_byte / kGranule; g < (c.shared_byte + size_t(c.bytes)) / kGranule; ++g) b.granules[g].async_writer = -1;
      if (c.source_bytes > 0 && std::memcmp(c.issued, c.source, size_t(c.source_bytes)) != 0)
        fault("the source of a cp.async into shared byte " + std::to_string(c.shared_byte) + " changed before the copy was waited for");
      unsigned char data[16] = {};
      std::memcpy(data, c.issued, size_t(c.source_bytes));
      shared_write(c.shared_byte, size_t(c.bytes), data);
    }
    t.committed.pop_front();
  }
}

bool counting() { return active && active->counting; }

namespace {
void count_access(int kind, uint64_t address, int bytes, const std::source_location& where) {
  BlockRun& b = block();
  if (!b.counting) return;
  EmulatedThread& t = *b.running;
  const uint32_t pass = t.passes[{where.file_name(), where.line(), where.column(), kind}]++;
  const AccessKey key{t.view.linear / 32, kind, bytes, where.file_name(), where.line(), where.column(), pass};
  b.accesses[key].push_back(LaneAccess{t.view.linear % 32, address, bytes});
}
}  // namespace

void count_shared(SharedAccess kind, size_t byte_offset, int bytes, const std::source_location& where) {
  count_access(int(kind), byte_offset, bytes, where);
}

void count_global(GlobalAccess kind, const void* p, int bytes, const std::source_location& where) {
  count_access(kGlobalKind + int(kind), reinterpret_cast<uintptr_t>(p), bytes, where);
}

void count_ldmatrix(const std::vector<LaneAccess>& rows, int matrices) {
  BlockRun& b = block();
  if (b.counting) b.counts.of(SharedAccess::Ldmatrix).add(ldmatrix_wavefronts(rows, matrices));
}

void count_mma() {
  BlockRun& b = block();
  if (b.counting) ++b.counts.mma;
}

void check_global_alignment(const void* p, size_t alignment) {
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0)
    fault("global address " + hex(unsigned(reinterpret_cast<uintptr_t>(p) & 0xffffffffu)) + "... is not aligned to " +
          std::to_string(alignment) + " bytes");
}

}  // namespace emulator
}  // namespace mdcsrn::simt
