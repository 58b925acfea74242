#include "kernels/simt/launch.h"
#include "kernels/step_schedule.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void set_kernel(StepSchedule* s, int64_t step, int64_t batch, AdamConfig adam, int64_t offset) {
  s->step = step;
  s->batch = batch;
  s->offset = offset;
  s->adam = adam;
}

MDCSRN_KERNEL void begin_kernel(StepSchedule* s) {
  s->first_patch = s->step * s->batch + s->offset;
  s->next_first_patch = (s->step + 1) * s->batch + s->offset;
  s->adam_step = adam_step(s->adam, s->step + 1);
}

MDCSRN_KERNEL void end_kernel(StepSchedule* s) { ++s->step; }

simt::LaunchConfig one_thread(std::source_location where = std::source_location::current()) {
  return simt::LaunchConfig(simt::Dim3(1), simt::Dim3(1), 0, where);
}

}  // namespace

template <class Context>
void set_step_schedule(Context& ctx, StepSchedule* s, int64_t step, int64_t batch, const AdamConfig& adam, int64_t offset) {
  simt::launch(ctx, one_thread(), set_kernel, s, step, batch, adam, offset);
}

template <class Context>
void begin_step(Context& ctx, StepSchedule* s) {
  simt::launch(ctx, one_thread(), begin_kernel, s);
}

template <class Context>
void end_step(Context& ctx, StepSchedule* s) {
  simt::launch(ctx, one_thread(), end_kernel, s);
}

using simt::TargetContext;
template void set_step_schedule(TargetContext&, StepSchedule*, int64_t, int64_t, const AdamConfig&, int64_t);
template void begin_step(TargetContext&, StepSchedule*);
template void end_step(TargetContext&, StepSchedule*);

}  // namespace mdcsrn::gpu
