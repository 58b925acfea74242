#pragma once
// Resident blocks per SM on sm_90 (H100, H200) from a kernel's registers, its shared memory and
// its block's threads, by the rules of CUDA's occupancy calculator for compute capability 9.0:
// 65,536 registers an SM allocated per warp in units of 256; 228 KiB of shared memory an SM with
// 1 KiB reserved per block, allocated in units of 128 bytes; at most 2,048 threads and 32 blocks.
#include <algorithm>
#include <cstddef>

namespace mdcsrn::simt {

struct Occupancy {
  int blocks_per_sm = 0;
  const char* limited_by = "";
};

// registers <= 0: unknown (the limit from registers is left out).
inline Occupancy sm90_occupancy(int registers, size_t shared_bytes, int block_threads) {
  const int warps = (block_threads + 31) / 32;
  Occupancy o{std::min(32, 2048 / std::max(1, block_threads)), "threads"};
  if (registers > 0) {
    const int warp_registers = (registers * 32 + 255) / 256 * 256;
    const int by_registers = 65536 / warp_registers / warps;
    if (by_registers < o.blocks_per_sm) o = {by_registers, "registers"};
  }
  const size_t per_block = (shared_bytes + 127) / 128 * 128 + 1024;
  const int by_shared = int(size_t(228 * 1024) / per_block);
  if (by_shared < o.blocks_per_sm) o = {by_shared, "shared memory"};
  return o;
}

}  // namespace mdcsrn::simt
