// What the SIMT emulator itself must catch: each kernel here breaks one rule of the CUDA
// execution model, and the emulator has to stop the launch with an error naming it; the same
// kernel with the rule kept must pass. Host-only: these kernels exist to fail.
#include <cmath>
#include <numeric>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

using simt::Emulator;
using simt::LaunchConfig;

// Runs the launch and returns its error message, or "" if it succeeded.
template <class Launch>
std::string error_of(Launch&& launch) {
  try {
    launch();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool mentions(const std::string& message, const std::string& what) { return message.find(what) != std::string::npos; }

// Thread t stores t, then reads its neighbour's word: a barrier must separate the two.
void neighbour_exchange(bool with_barrier, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, int(simt::block_threads()));
  const int t = int(simt::linear_thread());
  s.store(t, float(t));
  if (with_barrier) simt::barrier();
  out[t] = s.load((t + 1) % int(simt::block_threads()));
}

// Thread t reads its neighbour's word and then overwrites its own: write-after-read.
void read_then_overwrite(bool with_barrier, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, int(simt::block_threads()));
  const int t = int(simt::linear_thread());
  s.store(t, 1.f);
  simt::barrier();
  out[t] = s.load((t + 1) % int(simt::block_threads()));
  if (with_barrier) simt::barrier();
  s.store(t, 2.f);
}

// Lanes exchange through shared memory within a warp: __syncwarp orders them.
void warp_exchange(bool with_syncwarp, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 32);
  const int l = int(simt::lane());
  s.store(l, float(l));
  if (with_syncwarp) simt::sync_warp();
  out[l] = s.load(l ^ 1);
}

// A tree reduction (one barrier per level) with the barrier of one level removed on request.
void tree_sum(int skipped_level, const float* in, float* out) {
  const int threads = int(simt::block_threads()), t = int(simt::linear_thread());
  const simt::Shared<float> s = simt::shared<float>(0, threads);
  s.store(t, in[t]);
  simt::barrier();
  int level = 0;
  for (int stride = threads / 2; stride > 0; stride /= 2, ++level) {
    if (t < stride) s.store(t, s.load(t) + s.load(t + stride));
    if (level != skipped_level) simt::barrier();
  }
  if (t == 0) out[0] = s.load(0);
}

void read_unwritten(float* out) { out[simt::linear_thread()] = simt::shared<float>(0, 64).load(int(simt::linear_thread())); }

void index_past_window(float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 32);
  s.store(int(simt::linear_thread()) + 1, 1.f);
  out[0] = 0.f;
}

void window_past_launch(float* out) { out[0] = simt::shared<float>(64, 64).size(); }

void barriers_in_two_branches(float* out) {
  if (simt::linear_thread() < 16)
    simt::barrier();
  else
    simt::barrier();
  out[simt::linear_thread()] = 1.f;
}

void early_exit_then_barrier(float* out) {
  if (simt::linear_thread() >= 40) return;  // exited threads do not hold a barrier back (sm_70+)
  simt::barrier();
  out[simt::linear_thread()] = 1.f;
}

// Half of warp 1 waits in a full-warp shuffle that the other half never joins: it waits at the barrier.
void barrier_against_warp_collective(float* out) {
  if (simt::warp() == 1 && simt::lane() < 16)
    out[simt::lane()] = float(simt::shfl(simt::kFullMask, 1, 0));
  else
    simt::barrier();
}

void shuffle_outside_mask(float* out) {
  const unsigned l = simt::lane();
  if (l < 16) out[l] = float(simt::shfl(0x0000ffffu, int(l), 20));
}

void lane_outside_own_mask(float* out) { out[simt::lane()] = float(simt::shfl(0x0000ffffu, 1, 0)); }

// Lanes 16-31 exit; the rest shuffle over the full mask, which waits only for lanes present.
void shuffle_after_exits(int source, float* out) {
  const unsigned l = simt::lane();
  if (l >= 16) return;
  out[l] = float(simt::shfl(simt::kFullMask, int(l) + 100, source));
}

void ballot_after_exits(unsigned* out) {
  const unsigned l = simt::lane();
  if (l % 2) return;
  out[l] = simt::ballot(simt::kFullMask, l % 4 == 0);
  out[32 + l] = simt::all(simt::kFullMask, l < 64);
}

void mma_after_exits(float* out) {
  if (simt::lane() == 31) return;
  const uint32_t a[4] = {}, b[2] = {};
  float c[4] = {}, d[4];
  simt::mma_m16n8k16_bf16(d, a, b, c);
  out[simt::lane()] = d[0];
}

// Lane 0 reads s[0] twice with a __syncwarp between; lane 1 then writes it without one.
void reread_then_unsynchronised_write(float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 32);
  const int l = int(simt::lane());
  if (l == 0) s.store(0, 1.f);
  simt::sync_warp();
  if (l == 0) out[0] = s.load(0);
  simt::sync_warp();
  if (l == 0) out[1] = s.load(0);
  if (l == 1) s.store(0, 2.f);
}

// Lanes 0-15 synchronise among themselves only; lane 16 reads what lane 0 wrote.
void partial_syncwarp(float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 32);
  const unsigned l = simt::lane();
  if (l == 0) s.store(0, 1.f);
  if (l < 16) simt::sync_warp(0x0000ffffu);
  if (l == 16) out[0] = s.load(0);
}

// Lane 0 writes, every lane reads, and lane 0 writes again: correct with the two __syncwarps.
void warp_broadcast(float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 32);
  const unsigned l = simt::lane();
  for (int round = 0; round < 3; ++round) {
    if (l == 0) s.store(0, float(round));
    simt::sync_warp();
    out[l] += s.load(0);
    simt::sync_warp();
  }
}

// Thread 32 reads s[0] while thread 0 issues a cp.async into it in the same barrier interval;
// with read_first, warp 0 first waits in a __syncwarp, so that thread 32's read comes first.
void async_copy_over_a_read(bool read_first, const float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 4);
  const int t = int(simt::linear_thread());
  if (t == 0) s.store(0, 1.f);
  simt::barrier();
  if (read_first && t < 32) simt::sync_warp();
  if (t == 32) out[0] = s.load(0);
  if (t == 0) {
    simt::cp_async<16>(s, 0, src);
    simt::cp_async_commit();
  }
  simt::barrier();
  if (t == 0) simt::cp_async_wait<0>();
}

void empty_groups_at_exit(const float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 4);
  simt::cp_async<16>(s, 0, src);
  simt::cp_async_commit();
  simt::cp_async_commit();  // an empty group, as pipelines commit at their tail
  simt::cp_async_wait<1>();
  out[0] = s.load(0);
}

void source_changed_before_wait(float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 4);
  simt::cp_async<16>(s, 0, src);
  simt::cp_async_commit();
  src[0] = -1.f;
  simt::cp_async_wait<0>();
  out[0] = s.load(0);
}

// Thread 0 faults before any other thread has run: none of them may run after it.
void first_thread_faults(float* out) {
  if (simt::linear_thread() == 0) out[-1] = simt::shared<float>(0, 1).load(5);
  out[simt::linear_thread()] = 1.f;
}

void read_async_destination_before_wait(const float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 4 * int(simt::block_threads()));
  const int t = int(simt::linear_thread());
  simt::cp_async<16>(s, 4 * t, src + 4 * t);
  simt::cp_async_commit();
  out[t] = s.load(4 * t);
  simt::cp_async_wait<0>();
}

void exit_with_pending_copy(const float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 4 * int(simt::block_threads()));
  simt::cp_async<16>(s, 4 * int(simt::linear_thread()), src);
  out[0] = 0.f;
}

void wait_for_the_older_group(const float* src, float* out) {
  const simt::Shared<float> s = simt::shared<float>(0, 8);
  simt::cp_async<16>(s, 0, src);
  simt::cp_async_commit();
  simt::cp_async<16>(s, 4, src + 4);
  simt::cp_async_commit();
  simt::cp_async_wait<1>();  // the first group is complete, the second may not be
  out[0] = s.load(0);
  simt::cp_async_wait<0>();
  out[1] = s.load(4);
}

void misaligned_vector_load(const float* in, float* out) { out[0] = simt::load4(in + 1).x; }

void throwing_kernel(float*) { fail("a planted failure"); }

void global_overrun(const float* in, float* out) { out[simt::linear_thread()] = in[simt::linear_thread() + 64]; }

TEST_SUITE("emu_emulator") {
  TEST_CASE("a shared-memory exchange without a barrier is a race; with one it is correct") {
    Emulator emu;
    std::vector<float> out(128, -1.f);
    const LaunchConfig config(2, 64, 64 * sizeof(float));
    const std::string race = error_of([&] { simt::launch(emu, config, neighbour_exchange, false, out.data()); });
    CAPTURE(race);
    CHECK(mentions(race, "shared-memory race"));
    CHECK(mentions(race, "written by thread"));
    CHECK(mentions(race, "test_emulator.cpp"));  // names the launching line
    CHECK(error_of([&] { simt::launch(emu, config, neighbour_exchange, true, out.data()); }) == "");
    for (int t = 0; t < 64; ++t) CHECK(out[size_t(t)] == float((t + 1) % 64));
  }

  TEST_CASE("a write after another thread's read needs a barrier too") {
    Emulator emu;
    std::vector<float> out(64);
    const LaunchConfig config(1, 64, 64 * sizeof(float));
    CHECK(mentions(error_of([&] { simt::launch(emu, config, read_then_overwrite, false, out.data()); }), "and then written by"));
    CHECK(error_of([&] { simt::launch(emu, config, read_then_overwrite, true, out.data()); }) == "");
  }

  TEST_CASE("within a warp, __syncwarp orders shared-memory accesses") {
    Emulator emu;
    std::vector<float> out(32);
    const LaunchConfig config(1, 32, 32 * sizeof(float));
    CHECK(mentions(error_of([&] { simt::launch(emu, config, warp_exchange, false, out.data()); }), "shared-memory race"));
    CHECK(error_of([&] { simt::launch(emu, config, warp_exchange, true, out.data()); }) == "");
    for (int l = 0; l < 32; ++l) CHECK(out[size_t(l)] == float(l ^ 1));
  }

  TEST_CASE("a tree reduction is correct with every barrier and a race with any one removed") {
    Emulator emu;
    std::vector<float> in(128), out(1);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i % 7) - 2.f;
    const LaunchConfig config(1, 128, 128 * sizeof(float));
    CHECK(error_of([&] { simt::launch(emu, config, tree_sum, -1, in.data(), out.data()); }) == "");
    CHECK(out[0] == std::accumulate(in.begin(), in.end(), 0.f));
    for (int level = 0; level < 6; ++level) {  // the last level's barrier only precedes thread 0's own read
      CAPTURE(level);
      CHECK(mentions(error_of([&] { simt::launch(emu, config, tree_sum, level, in.data(), out.data()); }), "shared-memory race"));
    }
  }

  TEST_CASE("reads of unwritten shared memory and accesses outside a window or the launch are faults") {
    Emulator emu;
    std::vector<float> out(64);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 64, 256), read_unwritten, out.data()); }), "no thread of this block had written"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32, 256), index_past_window, out.data()); }), "shared-memory index 32 is outside [0, 32)"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 1, 256), window_past_launch, out.data()); }), "does not fit the launch's 256 bytes"));
  }

  TEST_CASE("barriers: different barriers, exited threads, and deadlocks") {
    Emulator emu;
    std::vector<float> out(64);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), barriers_in_two_branches, out.data()); }), "different barriers"));
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 64), early_exit_then_barrier, out.data()); }) == "");
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 64), barrier_against_warp_collective, out.data()); }), "deadlock"));
  }

  TEST_CASE("warp collectives: sources outside the mask, callers outside their mask, exited lanes") {
    Emulator emu;
    std::vector<float> out(32);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), shuffle_outside_mask, out.data()); }), "which is not in the mask"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), lane_outside_own_mask, out.data()); }), "not in its mask"));
    // Shuffles and votes wait only for the lanes of their mask that have not exited (PTX ISA).
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), shuffle_after_exits, 3, out.data()); }) == "");
    for (int l = 0; l < 16; ++l) CHECK(out[size_t(l)] == 103.f);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), shuffle_after_exits, 20, out.data()); }), "or has exited"));
    std::vector<unsigned> votes(64, 7u);
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), ballot_after_exits, votes.data()); }) == "");
    CHECK(votes[0] == 0x11111111u);
    CHECK(votes[32] == 1u);
    // mma and ldmatrix are .aligned: every lane of the warp must execute them.
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32), mma_after_exits, out.data()); }), "lane 31 has exited"));
  }

  TEST_CASE("__syncwarp orders only the lanes that took part, and a repeated read counts from its latest") {
    Emulator emu;
    std::vector<float> out(32, 0.f);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32, 128), reread_then_unsynchronised_write, out.data()); }),
                   "and then written by"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32, 128), partial_syncwarp, out.data()); }), "and read by"));
    std::fill(out.begin(), out.end(), 0.f);
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 32, 128), warp_broadcast, out.data()); }) == "");
    for (int l = 0; l < 32; ++l) CHECK(out[size_t(l)] == 3.f);
  }

  TEST_CASE("cancelled blocks: threads that had not run never run") {
    Emulator emu;
    std::vector<float> out(65, 0.f);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 64, 4), first_thread_faults, out.data() + 1); }), "outside [0, 1)"));
    for (float v : out) CHECK(v == 0.f);
  }

  TEST_CASE("cp.async: destinations are off limits until the wait, copies must be waited for, groups complete in order") {
    Emulator emu;
    std::vector<float> src(256, 3.f), out(64);
    for (size_t i = 0; i < src.size(); ++i) src[i] = float(i);
    const LaunchConfig config(1, 16, 16 * 4 * sizeof(float));
    CHECK(mentions(error_of([&] { simt::launch(emu, config, read_async_destination_before_wait, src.data(), out.data()); }), "pending"));
    CHECK(mentions(error_of([&] { simt::launch(emu, config, exit_with_pending_copy, src.data(), out.data()); }), "never waited for"));
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 1, 32), wait_for_the_older_group, src.data(), out.data()); }) == "");
    CHECK(out[0] == 0.f);
    CHECK(out[1] == 4.f);
    // Either order is a race: the copy issued over a read of the same interval, or the read of a pending copy.
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 64, 16), async_copy_over_a_read, true, src.data(), out.data()); }),
                   "read by thread (32,0,0) (linear 32) and then written by thread (0,0,0)"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 64, 16), async_copy_over_a_read, false, src.data(), out.data()); }),
                   "while a cp.async of thread (0,0,0)"));
    CHECK(error_of([&] { simt::launch(emu, LaunchConfig(1, 1, 16), empty_groups_at_exit, src.data(), out.data()); }) == "");
    std::vector<float> changing = src;
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 1, 16), source_changed_before_wait, changing.data(), out.data()); }),
                   "changed before the copy was waited for"));
  }

  TEST_CASE("misaligned vector loads, exceptions and invalid launches are reported") {
    Emulator emu;
    std::vector<float> in(8), out(8);
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 1), misaligned_vector_load, in.data(), out.data()); }), "not aligned to 16"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 1), throwing_kernel, out.data()); }), "a planted failure"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 2048), throwing_kernel, out.data()); }), "not a valid CUDA block"));
    CHECK(mentions(error_of([&] { simt::launch(emu, LaunchConfig(1, 32, 300 * 1024), throwing_kernel, out.data()); }), "227 KiB"));
  }

  // Run by its own ctest entry (emu.asan_global_overrun), which expects AddressSanitizer's report.
  TEST_CASE("planted: a global read past the end of its buffer" * doctest::skip()) {
    Emulator emu;
    std::vector<float> in(64), out(64);
    simt::launch(emu, LaunchConfig(1, 64), global_overrun, in.data(), out.data());
  }
}

}  // namespace
}  // namespace mdcsrn::test
