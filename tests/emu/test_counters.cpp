// The emulator's performance counters (kernels/simt/counters.h): the bank and sector model on
// hand-computed cases, then the same cases counted from kernels run under the emulator.
#include <vector>

#include "kernels/simt/launch.h"
#include "kernels/simt/occupancy.h"
#include "kernels/simt/tensor_core.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

using simt::LaneAccess;

// Lane l accesses `bytes` at first + l * stride, for the lanes in [0, lanes).
std::vector<LaneAccess> strided(uint64_t first, uint64_t stride, int bytes, int lanes = 32) {
  std::vector<LaneAccess> out;
  for (int l = 0; l < lanes; ++l) out.push_back(LaneAccess{l, first + uint64_t(l) * stride, bytes});
  return out;
}

// Each lane stores its word at lane * stride (in floats) of its warp's 32 x 32 floats, then reads
// it back after a barrier.
constexpr int kWarpFloats = 32 * 32;
void strided_store_and_load(int stride, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, int(simt::block_threads()) / 32 * kWarpFloats);
  const int at = int(simt::warp()) * kWarpFloats + int(simt::lane()) * stride;
  s.store(at, float(at));
  simt::barrier();
  out[simt::linear_thread()] = s.load(at);
}

// Block b's first thread marks out[b].
void mark_block(float* out) {
  if (simt::linear_thread() == 0) out[simt::block_idx().x] = 1.f;
}

// One ldmatrix.x4 of four 8x8 bf16 matrices stored one after another, rows `row_elements` apart.
void ldmatrix_rows(int row_elements, uint32_t* out) {
  const simt::Shared<uint16_t> s = simt::shared<uint16_t>(0, 32 * row_elements);
  const int l = int(simt::lane());
  for (int i = l; i < 32 * row_elements; i += 32) s.store(i, uint16_t(i));
  simt::barrier();
  uint32_t r[4];
  simt::ldmatrix<4>(r, s, l * row_elements);  // lane l: row l % 8 of matrix l / 8
  for (int m = 0; m < 4; ++m) out[4 * l + m] = r[m];
}

// 16-byte global loads, lane l at base + l * stride floats.
void vector_loads(const float* in, int stride, float* out) {
  const int l = int(simt::lane());
  const simt::Float4 v = simt::load4(in + l * stride);
  out[l] = v.x + v.y + v.z + v.w;
}

// Each lane loads the same 16 bytes twice, from two places in the code.
void repeated_loads(const float* in, float* out) {
  const int l = int(simt::lane());
  const simt::Float4 first = simt::load4(in + 4 * l);
  const simt::Float4 again = simt::load4(in + 4 * l);
  out[32 * simt::block_idx().x + l] = first.x + again.w;
}

TEST_SUITE("emu_counters") {
  TEST_CASE("the bank model: conflict-free, 2-way and 32-way, a broadcast, 16 bytes a lane, ldmatrix rows") {
    const simt::Wavefronts unit = simt::shared_access_wavefronts(strided(0, 4, 4), 4);
    CHECK(unit.actual == 1);
    CHECK(unit.conflicts() == 0);
    CHECK(simt::shared_access_wavefronts(strided(0, 8, 4), 4).actual == 2);  // lanes l and l + 16 share a bank
    CHECK(simt::shared_access_wavefronts(strided(0, 128, 4), 4).actual == 32);
    CHECK(simt::shared_access_wavefronts(strided(0, 128, 4), 4).conflicts() == 31);
    CHECK(simt::shared_access_wavefronts(strided(64, 0, 4), 4).actual == 1);  // one word for every lane
    CHECK(simt::shared_access_wavefronts(strided(0, 2, 2), 2).actual == 1);   // bf16 pairs share words
    const simt::Wavefronts quad = simt::shared_access_wavefronts(strided(0, 16, 16), 16);
    CHECK(quad.actual == 4);  // four phases of 8 lanes x 16 bytes
    CHECK(quad.ideal == 4);
    CHECK(simt::shared_access_wavefronts(strided(0, 128, 16), 16).actual == 32);  // every phase in banks 0-3
    CHECK(simt::shared_access_wavefronts(strided(0, 8, 8), 8).actual == 2);
    // ldmatrix.x4: rows 16 bytes apart fill the banks; 128 bytes apart (64 bf16, unpadded) they
    // all start in bank 0; padded by 16 bytes they spread again.
    CHECK(simt::ldmatrix_wavefronts(strided(0, 16, 16), 4).actual == 4);
    CHECK(simt::ldmatrix_wavefronts(strided(0, 128, 16), 4).actual == 32);
    CHECK(simt::ldmatrix_wavefronts(strided(0, 144, 16), 4).actual == 4);
    CHECK(simt::ldmatrix_wavefronts(strided(0, 16, 16), 2).ideal == 2);  // x2: lanes 16-31 supply nothing
  }

  TEST_CASE("the sector model: coalesced, strided, and a broadcast") {
    const simt::Sectors coalesced = simt::global_access_sectors(strided(4096, 16, 16));
    CHECK(coalesced.actual == 16);
    CHECK(coalesced.ideal == 16);
    const simt::Sectors one_per_lane = simt::global_access_sectors(strided(4096, 128, 4));
    CHECK(one_per_lane.actual == 32);
    CHECK(one_per_lane.ideal == 4);
    CHECK(simt::global_access_sectors(strided(4096 + 16, 16, 16)).actual == 17);  // misaligned by half a sector
    CHECK(simt::global_access_sectors(strided(4096, 0, 4)).actual == 1);
  }

  TEST_CASE("kernels under the emulator are counted per warp-wide access") {
    simt::Emulator emu;
    emu.count_launches(true);
    std::vector<float> out(64);
    for (const int stride : {1, 2, 32}) {
      CAPTURE(stride);
      emu.clear_launch_counts();
      simt::launch(emu, simt::LaunchConfig(1, 64, 2 * kWarpFloats * sizeof(float)), strided_store_and_load, stride, out.data());
      REQUIRE(emu.launch_counts().size() == 1);
      const simt::LaunchCounts& c = emu.launch_counts()[0];
      for (const simt::SharedAccess a : {simt::SharedAccess::Store, simt::SharedAccess::Load}) {
        CHECK(c.of(a).requests == 2);  // one per warp
        CHECK(c.of(a).wavefronts.ideal == 2);
        CHECK(c.of(a).wavefronts.actual == 2 * stride);  // 1, 2 and 32 words per bank
      }
      CHECK(c.barriers == 2);
      CHECK(c.blocks == 1);
    }
    std::vector<uint32_t> fragments(128);
    for (const int row : {8, 64, 72}) {  // 16, 128 and 144 bytes a row
      CAPTURE(row);
      emu.clear_launch_counts();
      simt::launch(emu, simt::LaunchConfig(1, 32, 32 * row * sizeof(uint16_t)), ldmatrix_rows, row, fragments.data());
      const simt::SharedCounts& m = emu.launch_counts()[0].of(simt::SharedAccess::Ldmatrix);
      CHECK(m.requests == 1);
      CHECK(m.wavefronts.actual == (row == 64 ? 32 : 4));
    }
    std::vector<float> in(32 * 32 + 8, 1.f);
    const float* aligned = in.data() + (32 - reinterpret_cast<uintptr_t>(in.data()) % 32) % 32 / sizeof(float);  // a sector boundary
    for (const int stride : {4, 32}) {
      CAPTURE(stride);
      emu.clear_launch_counts();
      simt::launch(emu, simt::LaunchConfig(1, 32), vector_loads, aligned, stride, out.data());
      const simt::GlobalCounts& g = emu.launch_counts()[0].of(simt::GlobalAccess::Load);
      CHECK(g.requests == 1);
      CHECK(g.sectors.bytes == 512);
      CHECK(g.sectors.ideal == 16);
      CHECK(g.sectors.actual == (stride == 4 ? 16 : 32));  // contiguous, or one sector a lane
      CHECK(g.sectors.l2 == g.sectors.actual);              // first reads, all from L2
    }
    // Read again by the same block: from its L1, as counted; another block reads from L2 anew.
    emu.clear_launch_counts();
    std::vector<float> twice(64);
    simt::launch(emu, simt::LaunchConfig(2, 32), repeated_loads, aligned, twice.data());
    const simt::GlobalCounts& r = emu.launch_counts()[0].of(simt::GlobalAccess::Load);
    CHECK(r.requests == 4);
    CHECK(r.sectors.actual == 64);
    CHECK(r.sectors.l2 == 32);
    emu.count_launches(false);
    emu.clear_launch_counts();
    simt::launch(emu, simt::LaunchConfig(1, 64, 2 * kWarpFloats * sizeof(float)), strided_store_and_load, 1, out.data());
    CHECK(emu.launch_counts().empty());  // off: nothing recorded
  }

  TEST_CASE("a sample of a grid's blocks, spread evenly, counts what the whole grid does where blocks do alike work") {
    simt::Emulator emu;
    emu.count_launches(true);
    const int blocks = 40;
    std::vector<float> out(size_t(blocks) * 64, -1.f);
    const simt::LaunchConfig config(blocks, 64, 2 * kWarpFloats * sizeof(float));
    simt::launch(emu, config, strided_store_and_load, 2, out.data());
    const simt::LaunchCounts whole = emu.launch_counts().at(0);
    CHECK(whole.blocks == uint64_t(blocks));
    CHECK(whole.grid_blocks == uint64_t(blocks));
    CHECK(whole.kernel == reinterpret_cast<const void*>(&strided_store_and_load));
    emu.clear_launch_counts();
    emu.sample_blocks(4);
    simt::launch(emu, config, strided_store_and_load, 2, out.data());
    const simt::LaunchCounts sampled = emu.launch_counts().at(0);
    CHECK(sampled.blocks == 4);
    CHECK(sampled.grid_blocks == uint64_t(blocks));
    CHECK(sampled.of(simt::SharedAccess::Store).wavefronts.actual * 10 == whole.of(simt::SharedAccess::Store).wavefronts.actual);
    CHECK(sampled.barriers * 10 == whole.barriers);
    simt::launch(emu, simt::LaunchConfig(blocks, 32), mark_block, out.data());
    for (int b = 0; b < blocks; ++b) CHECK((out[size_t(b)] == 1.f) == (b % 10 == 0));  // blocks 0, 10, 20 and 30 ran
  }

  TEST_CASE("resident blocks a SM on sm_90, by CUDA's occupancy rules") {
    // 156 registers x 128 threads: 5,120 a warp (256-register units), 12 warps, 3 blocks.
    CHECK(simt::sm90_occupancy(156, 41088, 128).blocks_per_sm == 3);
    CHECK(std::string(simt::sm90_occupancy(156, 41088, 128).limited_by) == "registers");
    // Registers unknown: 41,088 + 1,024 reserved bytes a block fit 5 times in 228 KiB.
    CHECK(simt::sm90_occupancy(0, 41088, 128).blocks_per_sm == 5);
    CHECK(std::string(simt::sm90_occupancy(0, 41088, 128).limited_by) == "shared memory");
    CHECK(simt::sm90_occupancy(32, 0, 256).blocks_per_sm == 8);  // 2,048 threads
    CHECK(simt::sm90_occupancy(32, 0, 32).blocks_per_sm == 32);  // at most 32 blocks
    CHECK(simt::sm90_occupancy(64, 0, 1024).blocks_per_sm == 1);  // 32 warps of 2,048 registers fill 65,536
  }
}

}  // namespace
}  // namespace mdcsrn::test
