#include "kernels/flat_grid.h"
#include "kernels/fused/weight_gradient_partials.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void sum_partials_kernel(const float* partials, int64_t blocks, int64_t count, float* out) {
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) {
    float sum = 0.f;
    for (int64_t b = 0; b < blocks; ++b) sum += partials[b * count + i];
    out[i] = sum;
  }
}

}  // namespace

template <class Context>
void sum_block_partials(Context& ctx, const float* partials, int64_t blocks, int64_t count, float* out) {
  simt::launch(ctx, flat_launch(count), sum_partials_kernel, partials, blocks, count, out);
}

template void sum_block_partials(simt::TargetContext&, const float*, int64_t, int64_t, float*);

}  // namespace mdcsrn::gpu
