#include "engine/bfloat16.h"
#include "kernels/flat_grid.h"
#include "kernels/optimizer.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// Four elements per access where all four arrays are 16-byte aligned, then the tail one by one.
MDCSRN_KERNEL void adam_kernel(AdamStep s, float* params, const float* grads, float* m, float* v, int64_t count, bool vectorized) {
  const int64_t vectors = vectorized ? count / 4 : 0;
  for (int64_t i = flat_thread(); i < vectors; i += flat_stride()) {
    simt::Float4 p = simt::load4(params + 4 * i), mm = simt::load4(m + 4 * i), vv = simt::load4(v + 4 * i);
    const simt::Float4 g = simt::load4(grads + 4 * i);
    adam_update(s, p.x, g.x, mm.x, vv.x);
    adam_update(s, p.y, g.y, mm.y, vv.y);
    adam_update(s, p.z, g.z, mm.z, vv.z);
    adam_update(s, p.w, g.w, mm.w, vv.w);
    simt::store4(params + 4 * i, p);
    simt::store4(m + 4 * i, mm);
    simt::store4(v + 4 * i, vv);
  }
  for (int64_t i = 4 * vectors + flat_thread(); i < count; i += flat_stride()) adam_update(s, params[i], grads[i], m[i], v[i]);
}

MDCSRN_KERNEL void adam_copies_kernel(const AdamStep* step, float* params, const float* grads, float* m, float* v, int64_t count,
                                      const int32_t* copy_index, uint16_t* copies) {
  const AdamStep s = *step;
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) {
    adam_update(s, params[i], grads[i], m[i], v[i]);
    if (copy_index[i] >= 0) copies[copy_index[i]] = float_to_bf16(params[i]);
  }
}

MDCSRN_KERNEL void store_step_kernel(AdamStep s, AdamStep* device) { *device = s; }

MDCSRN_KERNEL void clip_kernel(float* params, int64_t count, float limit) {
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) params[i] = clip_value(params[i], limit);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

template <class Context>
void adam(Context& ctx, const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count) {
  const bool vectorized = aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v);
  simt::launch(ctx, flat_launch(count, 16), adam_kernel, s, params, grads, m, v, count, vectorized);
}

template <class Context>
void adam_with_copies(Context& ctx, const AdamStep* s, float* params, const float* grads, float* m, float* v, int64_t count,
                      const int32_t* copy_index, uint16_t* copies) {
  simt::launch(ctx, flat_launch(count, 4), adam_copies_kernel, s, params, grads, m, v, count, copy_index, copies);
}

template <class Context>
void store_adam_step(Context& ctx, const AdamStep& s, AdamStep* device) {
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(1), simt::Dim3(1)), store_step_kernel, s, device);
}

template <class Context>
void clip(Context& ctx, float* params, int64_t count, float limit) {
  simt::launch(ctx, flat_launch(count, 4), clip_kernel, params, count, limit);
}

using simt::TargetContext;
template void adam(TargetContext&, const AdamStep&, float*, const float*, float*, float*, int64_t);
template void clip(TargetContext&, float*, int64_t, float);
template void adam_with_copies(TargetContext&, const AdamStep*, float*, const float*, float*, float*, int64_t, const int32_t*, uint16_t*);
template void store_adam_step(TargetContext&, const AdamStep&, AdamStep*);

}  // namespace mdcsrn::gpu
