#include "kernels/channel_fold.h"
#include "kernels/cuda_launch.cuh"

namespace mdcsrn::gpu {
namespace {

// One thread per folded weight: sums its (at most a few) sources in index order, like the CPU.
__global__ void fold_kernel(const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded) {
  MDCSRN_GRID_LOOP(i, outputs * distinct) {
    const int64_t o = i / distinct, d = i % distinct;
    float sum = 0.f;
    for (int64_t c = 0; c < concat; ++c)
      if (map[c] == d) sum += w[o * concat + c];
    folded[i] = sum;
  }
}

__global__ void unfold_kernel(const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct,
                              float* dw, bool accumulate) {
  MDCSRN_GRID_LOOP(i, outputs * concat) {
    const int64_t o = i / concat, c = i % concat;
    store_grad(dw[i], dfolded[o * distinct + map[c]], accumulate);
  }
}

}  // namespace

void fold_weights(CudaContext& ctx, const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded) {
  fold_kernel<<<grid_for(outputs * distinct), kThreads, 0, ctx.stream()>>>(w, map, outputs, concat, distinct, folded);
  MDCSRN_KERNEL_CHECK();
}

void unfold_grads(CudaContext& ctx, const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct,
                  float* dw, GradMode mode) {
  unfold_kernel<<<grid_for(outputs * concat), kThreads, 0, ctx.stream()>>>(dfolded, map, outputs, concat, distinct, dw,
                                                                           mode == GradMode::Accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
