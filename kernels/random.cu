#include "kernels/cuda_launch.cuh"
#include "kernels/random.h"

namespace mdcsrn::gpu {
namespace {

__global__ void philox_words_kernel(uint64_t seed, uint32_t stream, uint32_t* out, int64_t count) {
  MDCSRN_GRID_LOOP(i, (count + 3) / 4) {
    const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
    for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = w.v[k];
  }
}

__global__ void philox_uniform_kernel(uint64_t seed, uint32_t stream, float low, float high, float* out, int64_t count) {
  MDCSRN_GRID_LOOP(i, (count + 3) / 4) {
    const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
    // Explicitly rounded multiply and add: nvcc would otherwise fuse them into an FMA, and the
    // result would no longer match the CPU's bit for bit.
    for (int k = 0; k < 4 && 4 * i + k < count; ++k) out[4 * i + k] = __fadd_rn(low, __fmul_rn(high - low, uniform_open01(w.v[k])));
  }
}

}  // namespace

void philox_words(CudaContext& ctx, uint64_t seed, uint32_t stream, uint32_t* out, int64_t count) {
  philox_words_kernel<<<grid_for((count + 3) / 4), kThreads, 0, ctx.stream()>>>(seed, stream, out, count);
  MDCSRN_KERNEL_CHECK();
}

void philox_uniform(CudaContext& ctx, uint64_t seed, uint32_t stream, float low, float high, float* out, int64_t count) {
  philox_uniform_kernel<<<grid_for((count + 3) / 4), kThreads, 0, ctx.stream()>>>(seed, stream, low, high, out, count);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
