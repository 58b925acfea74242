#pragma once
// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. The same (counter, key) gives
// the same four 32-bit words on the CPU and the GPU, so any random draw can be reproduced anywhere
// from its seed and its index, with no generator state to carry or to checkpoint.
#include <cstdint>

#include "engine/hd.h"

namespace mdcsrn {

struct PhiloxWords {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;

MDCSRN_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = uint64_t(a) * uint64_t(b);
  hi = uint32_t(product >> 32);
  lo = uint32_t(product);
}
}  // namespace philox_detail

MDCSRN_HD PhiloxWords philox4x32_10(PhiloxWords counter, uint32_t key0, uint32_t key1) {
  using namespace philox_detail;
  uint32_t* c = counter.v;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c[0], hi0, lo0);
    mulhilo(kMul1, c[2], hi1, lo1);
    const uint32_t next[4] = {hi1 ^ c[1] ^ key0, lo1, hi0 ^ c[3] ^ key1, lo0};
    c[0] = next[0];
    c[1] = next[1];
    c[2] = next[2];
    c[3] = next[3];
  }
  return counter;
}

// Four words for draw `index` of stream `stream` under `seed`. Streams separate independent uses
// (initialisation, patch centres, shuffles) of one seed.
MDCSRN_HD PhiloxWords philox_draw(uint64_t seed, uint32_t stream, uint64_t index) {
  return philox4x32_10(PhiloxWords{{uint32_t(index), uint32_t(index >> 32), stream, 0u}}, uint32_t(seed),
                       uint32_t(seed >> 32));
}

// A float in (0, 1), exactly representable and computed with exact arithmetic only, so the CPU and
// the GPU agree bit for bit: the top 23 bits make an odd 24-bit integer, scaled by 2^-24.
MDCSRN_HD float uniform_open01(uint32_t word) { return float(((word >> 9) << 1) | 1u) * 5.9604644775390625e-8f; }

// An integer in [0, n) by multiply-high (bias below n / 2^32).
MDCSRN_HD uint32_t uniform_below(uint32_t word, uint32_t n) { return uint32_t((uint64_t(word) * n) >> 32); }

}  // namespace mdcsrn
