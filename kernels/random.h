#pragma once
// Bulk Philox draws: word k of draw i is element 4 * i + k, so a buffer filled on either device
// holds the same numbers.
#include <cstdint>

#include "engine/philox.h"
#include "kernels/common.h"

namespace mdcsrn {
namespace cpu {

inline void philox_words(uint64_t seed, uint32_t stream, uint32_t* out, int64_t count) {
  parallel_for((count + 3) / 4, 1 << 12, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
      for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = w.v[k];
    }
  });
}

// Uniform in [low, high): low + (high - low) * u with u in (0, 1).
template <class T>
void philox_uniform(uint64_t seed, uint32_t stream, T low, T high, T* out, int64_t count) {
  parallel_for((count + 3) / 4, 1 << 12, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
      for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = low + (high - low) * T(uniform_open01(w.v[k]));
    }
  });
}

}  // namespace cpu

// The GPU kernels (random.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void philox_words(Context& ctx, uint64_t seed, uint32_t stream, uint32_t* out, int64_t count);
template <class Context>
void philox_uniform(Context& ctx, uint64_t seed, uint32_t stream, float low, float high, float* out, int64_t count);
}  // namespace gpu

}  // namespace mdcsrn
