#pragma once
// The fast path's training step as CUDA graphs: sampling, the generator's forward, the loss,
// backward and Adam captured once and replayed with one launch per step. The step index, the
// patches it samples and Adam's bias correction live in device memory (kernels/step_schedule.h),
// so the graphs are not rebuilt each step; the host rewrites the schedule only when a step departs
// from it (the first, a resume, a new learning rate). The next batch is sampled on a side stream
// while the current step runs, into the other of two batch buffers: graph k computes on buffer k
// and fills buffer 1 - k. A step whose batch is not already sampled (the first, or after a jump)
// runs the same work without a graph, sampling its own batch first; it also grows every scratch
// buffer to its size, so that replays allocate nothing and never synchronise with the host.
#ifdef MDCSRN_HAVE_CUDA
#include <array>
#include <functional>
#include <memory>

#include "engine/cuda_graph.h"
#include "engine/memory.h"
#include "io/patch_dataset.h"
#include "kernels/step_schedule.h"

namespace mdcsrn {

class FastStepGraph {
 public:
  // The step's work after sampling: the generator on lr against hr, Adam with the constants at `adam`.
  using Compute = std::function<void(const float* lr, const float* hr, const AdamStep* adam)>;

  // batch: this process's patches a step; data-parallel, patches_per_step the global batch and
  // offset this rank's first patch within it.
  FastStepGraph(CudaContext& ctx, int64_t batch, int64_t batch_elements, int64_t patches_per_step, int64_t offset)
      : ctx_(ctx), batch_(batch), patches_per_step_(patches_per_step), offset_(offset), side_(ctx) {
    for (int k = 0; k < 2; ++k) {
      lr_[size_t(k)] = Buffer<float>(MemoryKind::Device, batch_elements);
      hr_[size_t(k)] = Buffer<float>(MemoryKind::Device, batch_elements);
      centres_[size_t(k)] = Buffer<int32_t>(MemoryKind::Device, batch * kCentreFields);
    }
    schedule_ = Buffer<StepSchedule>(MemoryKind::Device, 1);
  }
  // A replay may still run on the device: its buffers go only after it.
  ~FastStepGraph() { ctx_.synchronize(); }
  FastStepGraph(const FastStepGraph&) = delete;
  FastStepGraph& operator=(const FastStepGraph&) = delete;

  // Step `step` (0-based): patches step * patches_per_step + offset onwards, Adam update step + 1 with `adam`.
  // replay false runs every step without the graphs (the same kernels, for comparison).
  void run(const PatchDataset& data, int64_t step, const AdamConfig& adam, const Compute& compute, bool replay = true) {
    if (step != device_step_ || !(adam == adam_)) gpu::set_step_schedule(ctx_, schedule_.data(), step, patches_per_step_, adam, offset_);
    // The graphs hold the addresses of the dataset and of the context's scratch memory, which work
    // outside them (validation at another batch size, say) may have grown: capture again then.
    if (&data != data_ || ctx_.scratch(0) != captured_scratch_) graphs_ = {};
    const bool sampled = step == device_step_ && &data == data_;
    adam_ = adam;
    data_ = &data;
    current_ = int(step % 2);
    // Unknown until this step's work is queued: a step that throws leaves the next one to start afresh.
    device_step_ = -1;
    if (!sampled || !replay) {
      body(data, current_, true, compute);
    } else {
      if (!graphs_[0]) {
        for (int k = 0; k < 2; ++k)
          graphs_[size_t(k)] = std::make_unique<CudaGraph>(ctx_, [&, k] { body(data, k, false, compute); });
        captured_scratch_ = ctx_.scratch(0);
      }
      graphs_[size_t(current_)]->launch();
    }
    device_step_ = step + 1;
  }

  // The last step's batch.
  const Buffer<float>& input() const { return lr_[size_t(current_)]; }
  const Buffer<float>& target() const { return hr_[size_t(current_)]; }

 private:
  void body(const PatchDataset& data, int k, bool sample_current, const Compute& compute) {
    StepSchedule* s = schedule_.data();
    const int next = 1 - k;
    gpu::begin_step(ctx_, s);
    if (sample_current) data.sample_at(&s->first_patch, int(batch_), lr_[size_t(k)].data(), hr_[size_t(k)].data(), centres_[size_t(k)].data(), ctx_);
    side_.fork([&] {
      data.sample_at(&s->next_first_patch, int(batch_), lr_[size_t(next)].data(), hr_[size_t(next)].data(), centres_[size_t(next)].data(), ctx_);
    });
    try {
      compute(lr_[size_t(k)].data(), hr_[size_t(k)].data(), &s->adam_step);
      gpu::end_step(ctx_, s);
    } catch (...) {
      side_.join();  // a capture must end with the side stream joined
      throw;
    }
    side_.join();
  }

  CudaContext& ctx_;
  int64_t batch_, patches_per_step_, offset_;
  SideStream side_;
  std::array<Buffer<float>, 2> lr_, hr_;
  std::array<Buffer<int32_t>, 2> centres_;
  Buffer<StepSchedule> schedule_;
  std::array<std::unique_ptr<CudaGraph>, 2> graphs_;  // captured on the first step that can replay
  int64_t device_step_ = -1;                          // the step the device's schedule starts next
  AdamConfig adam_{};
  const PatchDataset* data_ = nullptr;  // the dataset the batch buffers and graphs sample
  const void* captured_scratch_ = nullptr;
  int current_ = 0;
};

}  // namespace mdcsrn
#endif
