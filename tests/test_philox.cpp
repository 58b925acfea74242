#include "engine/philox.h"
#include "kernels/random.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("philox") {
  TEST_CASE("known-answer vectors of Philox4x32-10 (Random123's kat_vectors)") {
    struct Kat {
      PhiloxWords counter;
      uint32_t key0, key1;
      PhiloxWords expected;
    };
    const Kat kats[] = {
        {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
        {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff, {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
        {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0, {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
    };
    for (const Kat& k : kats) {
      const PhiloxWords out = philox4x32_10(k.counter, k.key0, k.key1);
      for (int i = 0; i < 4; ++i) CHECK(out.v[i] == k.expected.v[i]);
    }
  }

  TEST_CASE("uniform draws lie in (0, 1) and have the right mean and variance") {
    const int64_t count = 1 << 18;
    std::vector<float> u(static_cast<size_t>(count));
    cpu::philox_uniform<float>(123, 4, 0.f, 1.f, u.data(), count);
    double mean = 0, sq = 0;
    for (float x : u) {
      REQUIRE(x > 0.f);
      REQUIRE(x < 1.f);
      mean += x / double(count);
      sq += double(x) * x / double(count);
    }
    // Standard errors: 1/sqrt(12 count) ~ 5.6e-4 for the mean.
    CHECK(std::fabs(mean - 0.5) < 3e-3);
    CHECK(std::fabs(sq - mean * mean - 1.0 / 12) < 3e-3);
    CHECK(uniform_open01(0u) == 5.9604644775390625e-8f);
    CHECK(uniform_open01(0xffffffffu) == 1.f - 5.9604644775390625e-8f);
  }

  TEST_CASE("streams and seeds give different sequences; the same ones repeat") {
    std::vector<uint32_t> a(64), b(64), c(64), a2(64);
    cpu::philox_words(1, 0, a.data(), 64);
    cpu::philox_words(1, 1, b.data(), 64);
    cpu::philox_words(2, 0, c.data(), 64);
    cpu::philox_words(1, 0, a2.data(), 64);
    CHECK(a == a2);
    CHECK(a != b);
    CHECK(a != c);
    // Element 4 i + k is word k of draw i.
    CHECK(a[9] == philox_draw(1, 0, 2).v[1]);
  }

  TEST_CASE("uniform_below covers [0, n) evenly") {
    std::vector<int> histogram(7);
    for (uint64_t i = 0; i < 70000; ++i) ++histogram[size_t(uniform_below(philox_draw(9, 0, i).v[0], 7))];
    for (int h : histogram) CHECK(std::abs(h - 10000) < 500);  // ~5 standard deviations
  }
}

}  // namespace
}  // namespace mdcsrn::test
