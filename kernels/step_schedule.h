#pragma once
// A training step's counters in device memory, so that one captured CUDA graph can replay every
// step: begin_step turns the step index into the patches to sample (this step's and the next's)
// and Adam's constants for update step + 1; end_step advances the index. The host writes the
// schedule only when it departs from the device's (a resume, a new learning rate).
#include <cstdint>

#include "kernels/optimizer.h"

namespace mdcsrn {

struct StepSchedule {
  int64_t step = 0;  // the step the next begin_step starts, 0-based
  int64_t batch = 0;   // patches a step (a data-parallel run's global batch)
  int64_t offset = 0;  // this rank's first patch within a step's (rank x its batch)
  AdamConfig adam;
  // Written by begin_step:
  int64_t first_patch = 0, next_first_patch = 0;  // this step's batch and the next's
  AdamStep adam_step{};                           // for update step + 1
};

namespace gpu {
template <class Context>
void set_step_schedule(Context& ctx, StepSchedule* s, int64_t step, int64_t batch, const AdamConfig& adam, int64_t offset = 0);
template <class Context>
void begin_step(Context& ctx, StepSchedule* s);
template <class Context>
void end_step(Context& ctx, StepSchedule* s);
}  // namespace gpu

}  // namespace mdcsrn
