// The SIMT primitives against their definitions in the PTX ISA and the CUDA C++ Programming Guide,
// on the target of tests/kernels/target.h: under the emulator this tests the emulator; on a device
// the same expectations test the emulator's definitions against the hardware.
#include "engine/bfloat16.h"
#include "tests/kernels/probe_kernels.h"
#include "tests/kernels/target.h"

namespace mdcsrn::test {
namespace {

// The lane whose value __shfl*_sync returns to `lane` (CUDA C++ Programming Guide, "Warp Shuffle
// Functions"): sources outside the caller's width-wide segment give the caller's own value,
// except that __shfl_sync wraps modulo width and __shfl_xor_sync may read earlier segments.
int shuffle_source(probe::Shuffle mode, int lane, int operand, int width) {
  const int segment = lane / width * width;
  switch (mode) {
    case probe::Shuffle::Index: return segment + ((operand % width) + width) % width;
    case probe::Shuffle::Up: return lane - segment >= operand ? lane - operand : lane;
    case probe::Shuffle::Down: return lane - segment + operand < width ? lane + operand : lane;
    case probe::Shuffle::Xor: return (lane ^ operand) < segment + width ? lane ^ operand : lane;
  }
  return lane;
}

TEST_SUITE(MDCSRN_TARGET_SUITE("simt")) {
  TEST_CASE("shuffles follow CUDA's definition for every mode, several widths and partial masks") {
    struct Case {
      probe::Shuffle mode;
      unsigned mask;
      int width;
      int operand;  // for Index: lane l reads operand * l + 3
    };
    const Case cases[] = {{probe::Shuffle::Index, 0xffffffffu, 32, 7},  {probe::Shuffle::Index, 0xffffffffu, 8, 5},
                          {probe::Shuffle::Index, 0x0000ffffu, 16, 3},  {probe::Shuffle::Up, 0xffffffffu, 32, 3},
                          {probe::Shuffle::Up, 0xffffffffu, 4, 1},      {probe::Shuffle::Down, 0xffffffffu, 32, 5},
                          {probe::Shuffle::Down, 0x55555555u, 32, 2},   {probe::Shuffle::Down, 0xffffffffu, 16, 9},
                          {probe::Shuffle::Xor, 0xffffffffu, 32, 16},   {probe::Shuffle::Xor, 0xffffffffu, 8, 12},
                          {probe::Shuffle::Xor, 0x55555555u, 32, 6},    {probe::Shuffle::Xor, 0xffff0000u, 16, 1}};
    for (const Case& c : cases) {
      CAPTURE(int(c.mode));
      CAPTURE(c.mask);
      CAPTURE(c.width);
      CAPTURE(c.operand);
      std::vector<int> operand(32);
      for (int l = 0; l < 32; ++l) operand[size_t(l)] = c.mode == probe::Shuffle::Index ? c.operand * l + 3 : c.operand;
      TargetContext ctx;
      Buffer<int> op = target_copy(operand), out = target_copy(std::vector<int>(32, -7));
      Buffer<double> out_double = target_copy(std::vector<double>(32, -7.0));
      probe::shuffles(ctx, c.mode, c.mask, op.data(), c.width, out.data(), out_double.data());
      ctx.synchronize();
      const std::vector<int> got = out.download();
      const std::vector<double> got_double = out_double.download();
      for (int l = 0; l < 32; ++l) {
        CAPTURE(l);
        if (!((c.mask >> l) & 1u)) {
          CHECK(got[size_t(l)] == -1);
          continue;
        }
        const int source = shuffle_source(c.mode, l, operand[size_t(l)], c.width);
        REQUIRE(((c.mask >> source) & 1u));  // the cases only read lanes of their mask
        CHECK(got[size_t(l)] == 1000 + source);
        CHECK(got_double[size_t(l)] == -0.5 * source);
      }
    }
  }

  TEST_CASE("ballot, any and all over full and partial masks") {
    std::mt19937_64 rng(5);
    for (unsigned mask : {0xffffffffu, 0x00ff00ffu, 0x80000001u}) {
      for (int density : {0, 1, 2, 3}) {  // no lane, some, most, every lane true
        std::vector<int> predicate(32);
        for (int& p : predicate) p = density == 3 ? 1 : density == 0 ? 0 : int(rng() % 4 < unsigned(density));
        unsigned expected = 0;
        for (int l = 0; l < 32; ++l)
          if (((mask >> l) & 1u) && predicate[size_t(l)]) expected |= 1u << l;
        TargetContext ctx;
        Buffer<int> p = target_copy(predicate), any = target_copy(std::vector<int>(32, -1)), all = target_copy(std::vector<int>(32, -1));
        Buffer<unsigned> ballot = target_copy(std::vector<unsigned>(32, 0xdeadu));
        probe::votes(ctx, mask, p.data(), ballot.data(), any.data(), all.data());
        ctx.synchronize();
        const std::vector<unsigned> b = ballot.download();
        const std::vector<int> an = any.download(), al = all.download();
        for (int l = 0; l < 32; ++l) {
          if (!((mask >> l) & 1u)) continue;
          CHECK(b[size_t(l)] == expected);  // lanes outside the mask contribute 0
          CHECK(an[size_t(l)] == int(expected != 0));
          CHECK(al[size_t(l)] == int(expected == mask));
        }
      }
    }
  }

  TEST_CASE("ldmatrix x1/x2/x4, with and without .trans, delivers the documented fragments") {
    // Lanes 8m..8m+7 give the rows of matrix m; lane L receives row L/4, elements 2(L%4) and
    // 2(L%4)+1 (low half first); .trans delivers the same fragment of the transposed matrix.
    auto element = [](int m, int r, int c) { return uint32_t((m << 12) | (r << 8) | c); };
    for (int count : {1, 2, 4})
      for (bool trans : {false, true})
        for (int row_stride : {8, 24}) {  // contiguous rows, and rows apart from each other
          CAPTURE(count);
          CAPTURE(trans);
          CAPTURE(row_stride);
          TargetContext ctx;
          Buffer<uint32_t> out = target_copy(std::vector<uint32_t>(128, 0xffffffffu));
          probe::load_matrices(ctx, count, trans, row_stride, out.data());
          ctx.synchronize();
          const std::vector<uint32_t> got = out.download();
          for (int lane = 0; lane < 32; ++lane)
            for (int m = 0; m < count; ++m) {
              const int r = lane / 4, c = 2 * (lane % 4);
              const uint32_t low = trans ? element(m, c, r) : element(m, r, c), high = trans ? element(m, c + 1, r) : element(m, r, c + 1);
              CAPTURE(lane);
              CAPTURE(m);
              CHECK(got[size_t(4 * lane + m)] == (low | (high << 16)));
            }
        }
  }

  TEST_CASE("mma.m16n8k16 bf16 with fp32 accumulation equals the GEMM of the same bf16 values") {
    std::mt19937_64 rng(6);
    std::vector<uint16_t> a(256), b(128);
    for (uint16_t& v : a) v = float_to_bf16(random_values<float>(1, rng)[0]);
    for (uint16_t& v : b) v = float_to_bf16(random_values<float>(1, rng)[0]);
    const std::vector<float> c = random_values<float>(128, rng);
    TargetContext ctx;
    Buffer<uint16_t> ad = target_copy(a), bd = target_copy(b);
    Buffer<float> cd = target_copy(c), dd = poisoned(128);
    probe::mma_tile(ctx, ad.data(), bd.data(), cd.data(), dd.data());
    ctx.synchronize();
    const std::vector<float> d = dd.download();
    std::vector<double> expected(128), got(128);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        double sum = c[size_t(i * 8 + j)];
        for (int k = 0; k < 16; ++k) sum += double(bf16_to_float(a[size_t(i * 16 + k)])) * bf16_to_float(b[size_t(k * 8 + j)]);
        expected[size_t(i * 8 + j)] = sum;
        got[size_t(i * 8 + j)] = d[size_t(i * 8 + j)];
      }
    // Products of bf16 values are exact; the device accumulates in at least fp32, in an order of its own.
    CHECK(relative_error(got, expected) < 1e-6);
  }

  TEST_CASE("a warp GEMM over cp.async, ldmatrix and mma equals the plain GEMM") {
    std::mt19937_64 rng(7);
    std::vector<uint16_t> a(64 * 64), bt(32 * 64);
    for (uint16_t& v : a) v = float_to_bf16(random_values<float>(1, rng)[0]);
    for (uint16_t& v : bt) v = float_to_bf16(random_values<float>(1, rng)[0]);
    TargetContext ctx;
    Buffer<uint16_t> ad = target_copy(a), btd = target_copy(bt);
    Buffer<float> cd = poisoned(64 * 32);
    probe::warp_gemm(ctx, ad.data(), btd.data(), cd.data());
    ctx.synchronize();
    const std::vector<float> c = cd.download();
    std::vector<double> expected(c.size()), got(c.size());
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 32; ++j) {
        double sum = 0;
        for (int k = 0; k < 64; ++k) sum += double(bf16_to_float(a[size_t(i * 64 + k)])) * bf16_to_float(bt[size_t(j * 64 + k)]);
        expected[size_t(i * 32 + j)] = sum;
        got[size_t(i * 32 + j)] = c[size_t(i * 32 + j)];
      }
    // fp32 accumulation over k = 64 in four mmas: 1.4e-6 under the emulator's pessimistic model
    // (kernels/simt/mma_accumulation.h), far less when rounded once or truncated as Hopper does.
    CHECK(relative_error(got, expected) < 5e-6);
  }

  TEST_CASE("cp.async copies, zero-fills the bytes it does not read, and is visible after wait and barrier") {
    const int threads = 96;
    std::mt19937_64 rng(8);
    const std::vector<float> src = random_values<float>(4 * threads, rng, 0.1);
    TargetContext ctx;
    Buffer<float> sd = target_copy(src), out = poisoned(4 * threads);
    probe::async_copies(ctx, sd.data(), threads, out.data());
    ctx.synchronize();
    const std::vector<float> got = out.download();
    for (int t = 0; t < threads; ++t) {
      const int from = (t + 1) % threads, read = from % 5;  // floats the copy read
      for (int i = 0; i < 4; ++i) CHECK(got[size_t(4 * t + i)] == (i < read ? src[size_t(4 * from + i)] : 0.f));
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
