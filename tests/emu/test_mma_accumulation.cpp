// The emulator's models of mma.sync's fp32 accumulation (kernels/simt/mma_accumulation.h): each
// model's defining behaviour on a row whose small products fall below Hopper's alignment, and the
// emulated mma following the model that MDCSRN_EMULATED_MMA names (ctest runs this suite under
// each: emu.emu_mma_accumulation, emu.emu_mma_sm90, emu.emu_mma_pessimistic).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/bfloat16.h"
#include "kernels/simt/mma_accumulation.h"
#include "tests/kernels/probe_kernels.h"
#include "tests/kernels/target.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

using simt::MmaAccumulation;

// One product 1 x 1 and fifteen of 2^-13 x 2^-13 = 2^-26: exactly 1 + 15 * 2^-26.
struct SmallTail {
  std::vector<float> a = std::vector<float>(16, std::ldexp(1.f, -13)), b = std::vector<float>(16, std::ldexp(1.f, -13));
  SmallTail() { a[0] = b[0] = 1.f; }
};

TEST_SUITE("emu_mma_accumulation") {
  TEST_CASE("round adds exactly and rounds once; sm90 drops what falls below 2^(E-25); pessimistic stays below both") {
    const SmallTail t;
    const double exact = 1 + 15 * std::ldexp(1.0, -26);  // 1 + 1.875 fp32 ulps
    const float round = simt::mma_accumulate(MmaAccumulation::Round, 0.f, t.a.data(), t.b.data(), 16);
    const float sm90 = simt::mma_accumulate(MmaAccumulation::Sm90, 0.f, t.a.data(), t.b.data(), 16);
    const float pessimistic = simt::mma_accumulate(MmaAccumulation::Pessimistic, 0.f, t.a.data(), t.b.data(), 16);
    CHECK(round == 1.f + std::ldexp(1.f, -22));  // the nearest fp32 to 1 + 1.875 ulps
    CHECK(sm90 == 1.f);                          // each 2^-26 truncated to a multiple of 2^-25: nothing
    CHECK(double(pessimistic) < double(sm90));
    CHECK(double(pessimistic) > exact - 20 * std::ldexp(1.0, -25) - 3 * std::ldexp(1.0, -23));  // by at most its stated bias

    // sm90 truncates each term toward zero, whatever its sign (here the total moves away from zero:
    // -1 + 15 * 2^-26 is -1 + 3.75 ulps below 1, and the nearest fp32 is -1 + 2^-22).
    SmallTail negative = t;
    negative.a[0] = -1.f;
    CHECK(simt::mma_accumulate(MmaAccumulation::Sm90, 0.f, negative.a.data(), negative.b.data(), 16) == -1.f);
    CHECK(simt::mma_accumulate(MmaAccumulation::Round, 0.f, negative.a.data(), negative.b.data(), 16) == -1.f + std::ldexp(1.f, -22));
    // The accumulator takes part in the alignment: 2^-30 beside a product of 1 is dropped.
    const std::vector<float> zeros(16, 0.f);
    CHECK(simt::mma_accumulate(MmaAccumulation::Sm90, 0.75f, zeros.data(), zeros.data(), 16) == 0.75f);
    CHECK(simt::mma_accumulate(MmaAccumulation::Sm90, std::ldexp(1.f, -30), t.a.data(), t.b.data(), 1) == 1.f);
    // Alignment uses the factors' exponents: 1.5 x 1.5 = 2.25 aligns at 2^0 (not 2^1), so eight
    // products of 2^-25 survive and make one fp32 ulp of 2.25.
    std::vector<float> a(9, std::ldexp(1.f, -12)), b(9, std::ldexp(1.f, -13));
    a[0] = b[0] = 1.5f;
    CHECK(simt::mma_accumulate(MmaAccumulation::Sm90, 0.f, a.data(), b.data(), 9) == 2.25f + std::ldexp(1.f, -22));
  }

  TEST_CASE("the emulated mma.sync accumulates as MDCSRN_EMULATED_MMA says") {
    const SmallTail t;
    std::vector<uint16_t> a(256, 0), b(128, 0);
    for (int k = 0; k < 16; ++k) {
      a[size_t(k)] = float_to_bf16(t.a[size_t(k)]);      // row 0 of A
      b[size_t(k * 8)] = float_to_bf16(t.b[size_t(k)]);  // column 0 of B
    }
    TargetContext ctx;
    Buffer<uint16_t> ad = target_copy(a), bd = target_copy(b);
    Buffer<float> cd = target_copy(std::vector<float>(128, 0.f)), dd = poisoned(128);
    probe::mma_tile(ctx, ad.data(), bd.data(), cd.data(), dd.data());
    const MmaAccumulation model = simt::mma_accumulation();
    MESSAGE("accumulation model: " << std::string(simt::mma_accumulation_name(model)));
    CHECK(dd.download()[0] == simt::mma_accumulate(model, 0.f, t.a.data(), t.b.data(), 16));
  }
}

}  // namespace
}  // namespace mdcsrn::test
