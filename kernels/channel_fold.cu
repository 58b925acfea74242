#include "kernels/channel_fold.h"
#include "kernels/flat_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// Block row y is output channel o; threads walk the folded weights of that output.
MDCSRN_KERNEL void fold_kernel(const float* w, const int32_t* map, int64_t concat, int64_t distinct, float* folded) {
  const int64_t o = simt::block_idx().y;
  for (int64_t d = flat_thread(); d < distinct; d += flat_stride()) {
    float sum = 0.f;  // its sources in index order, like the CPU
    for (int64_t c = 0; c < concat; ++c)
      if (map[c] == d) sum += w[o * concat + c];
    folded[o * distinct + d] = sum;
  }
}

MDCSRN_KERNEL void unfold_kernel(const float* dfolded, const int32_t* map, int64_t concat, int64_t distinct, float* dw,
                                 bool accumulate) {
  const int64_t o = simt::block_idx().y;
  for (int64_t c = flat_thread(); c < concat; c += flat_stride())
    store_grad(dw[o * concat + c], dfolded[o * distinct + map[c]], accumulate);
}

simt::LaunchConfig per_output_launch(int64_t outputs, int64_t per_output, std::source_location where = std::source_location::current()) {
  MDCSRN_ASSERT(outputs >= 1 && outputs <= 65535, "channel fold: " + std::to_string(outputs) + " output channels");
  return simt::LaunchConfig(simt::Dim3(unsigned((per_output + kThreads - 1) / kThreads), unsigned(outputs)), simt::Dim3(kThreads), 0,
                            where);
}

}  // namespace

template <class Context>
void fold_weights(Context& ctx, const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded) {
  simt::launch(ctx, per_output_launch(outputs, distinct), fold_kernel, w, map, concat, distinct, folded);
}

template <class Context>
void unfold_grads(Context& ctx, const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* dw,
                  GradMode mode) {
  simt::launch(ctx, per_output_launch(outputs, concat), unfold_kernel, dfolded, map, concat, distinct, dw, mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void fold_weights(TargetContext&, const float*, const int32_t*, int64_t, int64_t, int64_t, float*);
template void unfold_grads(TargetContext&, const float*, const int32_t*, int64_t, int64_t, int64_t, float*, GradMode);

}  // namespace mdcsrn::gpu
