#pragma once
// What the SIMT emulator counts of a launch when asked to (Emulator::count_launches): the counts
// that decide a hand-written kernel's speed and that the code and the launch fix, so that they
// are known before a device measures time. Each warp-wide access (the lanes of one warp at one
// place in the code, the k-th time each passes it) is costed under sm_90's rules:
// - shared memory: 32 banks of 4 bytes. Lanes accessing 1-4 bytes are served as one phase of 32
//   lanes, 8 bytes as two phases of 16, 16 bytes (and cp.async's 16-byte destinations) as four of
//   8; ldmatrix as one phase per 8x8 matrix, its 8 rows of 16 bytes. A phase needs as many
//   wavefronts as the most distinct 4-byte words any one bank holds among its lanes' bytes (one
//   word read by many lanes is a broadcast); ideally one. Conflicts = wavefronts - ideal, as
//   Nsight Compute's l1tex__data_bank_conflicts_pipe_lsu_mem_shared counts them.
// - global memory: the distinct 32-byte sectors a warp-wide request touches, against the fewest
//   that could hold its distinct bytes, and of those the ones that reach L2 (Sectors::l2). Counted for the accesses the emulator sees: load4,
//   store4, load16, store16 and cp.async's sources; plain loads and stores through pointers are
//   not seen (the report says what it covered).
// - per warp: mma.sync and ldmatrix instructions, and barriers.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace mdcsrn::simt {

// One lane's part of a warp-wide access.
struct LaneAccess {
  int lane = 0;
  uint64_t address = 0;  // byte (a shared-memory offset, or a global address)
  int bytes = 0;
};

struct Wavefronts {
  int64_t actual = 0, ideal = 0;
  int64_t conflicts() const { return actual - ideal; }
};

// A warp-wide shared-memory access of `bytes_per_lane` bytes a lane (1, 2, 4, 8 or 16); lanes
// absent from `lanes` did not take part.
Wavefronts shared_access_wavefronts(const std::vector<LaneAccess>& lanes, int bytes_per_lane);
// ldmatrix of `matrices` 8x8 matrices: lanes 8m..8m+7 supply matrix m's row addresses.
Wavefronts ldmatrix_wavefronts(const std::vector<LaneAccess>& rows, int matrices);

struct Sectors {
  int64_t actual = 0, ideal = 0, bytes = 0;  // bytes: the distinct bytes requested
  // The sectors that reach L2: for loads, those the block had not read before (L1 modelled as
  // holding whatever its block read, nothing shared between blocks); every store and cp.async
  // source sector (stores write through L1; cp.async of 16 bytes bypasses it).
  int64_t l2 = 0;
};
Sectors global_access_sectors(const std::vector<LaneAccess>& lanes);
// The 32-byte sectors (address / 32) the lanes' bytes fall in.
std::set<uint64_t> sectors_touched(const std::vector<LaneAccess>& lanes);

enum class SharedAccess { Load, Store, Ldmatrix, AsyncCopyDestination };
enum class GlobalAccess { Load, Store, AsyncCopySource };

struct SharedCounts {
  int64_t requests = 0;  // warp-wide accesses
  Wavefronts wavefronts;
  void add(const Wavefronts& w) {
    ++requests;
    wavefronts.actual += w.actual;
    wavefronts.ideal += w.ideal;
  }
};
struct GlobalCounts {
  int64_t requests = 0;
  Sectors sectors;
  void add(const Sectors& s) {
    ++requests;
    sectors.actual += s.actual;
    sectors.ideal += s.ideal;
    sectors.bytes += s.bytes;
    sectors.l2 += s.l2;
  }
};

// One launch's counts, summed over its blocks.
struct LaunchCounts {
  std::string site;  // the launching line, file:line
  const void* kernel = nullptr;  // the kernel function, when launched through simt::launch
  uint64_t blocks = 0, block_threads = 0;  // blocks: those run (all, unless Emulator::sample_blocks)
  uint64_t grid_blocks = 0;
  size_t shared_bytes = 0;
  SharedCounts shared[4];  // by SharedAccess
  GlobalCounts global[3];  // by GlobalAccess
  int64_t mma = 0, barriers = 0;  // per warp: mma.sync instructions, barriers passed
  void merge(const LaunchCounts& o);
  SharedCounts& of(SharedAccess a) { return shared[int(a)]; }
  GlobalCounts& of(GlobalAccess a) { return global[int(a)]; }
  const SharedCounts& of(SharedAccess a) const { return shared[int(a)]; }
  const GlobalCounts& of(GlobalAccess a) const { return global[int(a)]; }
};

}  // namespace mdcsrn::simt
