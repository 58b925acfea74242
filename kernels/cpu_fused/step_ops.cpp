// The fast path's small per-step kernels on the CPU: BatchNorm's running statistics, the 1x1
// layers' weight folding, and Adam writing the units' bf16 weights in the same pass.
#include "engine/bfloat16.h"
#include "engine/parallel.h"
#include "kernels/cpu_fused/kernels.h"

namespace mdcsrn::gpu {

template <>
void batchnorm_update_running(CpuFusedContext&, const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                              float* running_var, int64_t channels) {
  cpu::batchnorm_update_running<float>(mean, var, count, momentum, running_mean, running_var, channels);
}

template <>
void batchnorm_running_statistics(CpuFusedContext&, const float* running_mean, const float* running_var, float eps, float* mean,
                                  float* invstd, int64_t channels) {
  cpu::batchnorm_running_statistics<float>(running_mean, running_var, eps, mean, invstd, channels);
}

template <>
void fold_weights(CpuFusedContext&, const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded) {
  cpu::fold_weights<float>(w, map, outputs, concat, distinct, folded);
}

template <>
void unfold_grads(CpuFusedContext&, const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* dw,
                  GradMode mode) {
  cpu::unfold_grads<float>(dfolded, map, outputs, concat, distinct, dw, mode);
}

template <>
void adam_with_copies(CpuFusedContext&, const AdamStep* s, float* params, const float* grads, float* m, float* v, int64_t count,
                      const int32_t* copy_index, uint16_t* copies) {
  const AdamStep step = *s;
  parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      adam_update(step, params[i], grads[i], m[i], v[i]);
      if (copy_index[i] >= 0) copies[copy_index[i]] = float_to_bf16(params[i]);
    }
  });
}

template <>
void store_adam_step(CpuFusedContext&, const AdamStep& s, AdamStep* device) {
  *device = s;
}

}  // namespace mdcsrn::gpu
