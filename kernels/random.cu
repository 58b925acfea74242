#include "kernels/flat_grid.h"
#include "kernels/random.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void philox_words_kernel(uint64_t seed, uint32_t stream, uint32_t* out, int64_t count) {
  for (int64_t i = flat_thread(); i < (count + 3) / 4; i += flat_stride()) {
    const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
    for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = w.v[k];
  }
}

// Rounded multiply and add, never an FMA: the CPU's result bit for bit.
MDCSRN_DEVICE float scaled_uniform(float low, float high, uint32_t word) {
  return simt::add_rn(low, simt::mul_rn(high - low, uniform_open01(word)));
}

MDCSRN_KERNEL void philox_uniform_kernel(uint64_t seed, uint32_t stream, float low, float high, float* out, int64_t count) {
  for (int64_t i = flat_thread(); i < (count + 3) / 4; i += flat_stride()) {
    const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
    for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = scaled_uniform(low, high, w.v[k]);
  }
}

}  // namespace

template <class Context>
void philox_words(Context& ctx, uint64_t seed, uint32_t stream, uint32_t* out, int64_t count) {
  simt::launch(ctx, flat_launch((count + 3) / 4), philox_words_kernel, seed, stream, out, count);
}

template <class Context>
void philox_uniform(Context& ctx, uint64_t seed, uint32_t stream, float low, float high, float* out, int64_t count) {
  simt::launch(ctx, flat_launch((count + 3) / 4), philox_uniform_kernel, seed, stream, low, high, out, count);
}

using simt::TargetContext;
template void philox_words(TargetContext&, uint64_t, uint32_t, uint32_t*, int64_t);
template void philox_uniform(TargetContext&, uint64_t, uint32_t, float, float, float*, int64_t);

}  // namespace mdcsrn::gpu
