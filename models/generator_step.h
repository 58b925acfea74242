#pragma once
// One training step of the generator on a backend: sample a batch, forward, loss, backward, Adam.
// Used by the trainer and by the step benchmark, so both run exactly the same work.
#include <memory>
#include <type_traits>
#include <vector>

#include "engine/arena.h"
#include "engine/communicator.h"
#include "io/patch_dataset.h"
#include "models/fast_step_graph.h"
#include "models/generator.h"
#include "models/generator_fast.h"
#include "models/train_config.h"

namespace mdcsrn {

template <class Backend>
class GeneratorStep {
 public:
  using T = typename Backend::Scalar;

  GeneratorStep(const GeneratorLayout& layout, Backend be, CudaContext* ctx, int batch, int patch, LossKind loss)
      : be_(be), ctx_(ctx), layout_(layout), shape_{batch, 1, patch, patch, patch}, loss_kind_(loss),
        arena_(layout.table(), Backend::memory), generator_(layout, be, shape_),
        lr_(Backend::memory, shape_.numel()), hr_(Backend::memory, shape_.numel()), sr_(Backend::memory, shape_.numel()),
        dsr_(Backend::memory, shape_.numel()), centres_(Backend::memory, int64_t(batch) * kCentreFields), loss_(Backend::memory, 1) {}

  // Data-parallel training over the ranks of `host` (MPI, for host values such as the loss),
  // with `device` their collectives over this backend's memory (the same object for CPU ranks,
  // NCCL for GPU ranks): this step is rank r's share (batch samples) of a global batch of
  // ranks x batch, whose patches step * global + r * batch onwards it draws; the generator's
  // BatchNorm uses the whole batch's statistics; each rank's loss gradient is scaled by 1 / ranks
  // and the gradients are summed over the ranks before Adam, so every rank applies the gradient
  // of the global batch's mean loss; on both paths.
  void spread_over(const Communicator& host, const Collectives& device) {
    MDCSRN_ASSERT(device.memory() == Backend::memory && device.size() == host.size(),
                   "training step: the device collectives must span the host's ranks, over this backend's memory");
    host_ranks_ = &host, device_ranks_ = &device;
    generator_.synchronize_batchnorm(device);
    if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
      if (fast_) fast_->synchronize_batchnorm(device);
    }
#ifdef MDCSRN_HAVE_CUDA
    graph_.reset();  // its schedule draws one process's patches
#endif
  }
  int ranks() const { return host_ranks_ ? host_ranks_->size() : 1; }
  // The global index of this process's first sample of step `step`.
  int64_t first_sample(int64_t step) const {
    const int64_t rank = host_ranks_ ? host_ranks_->rank() : 0;
    return (step * ranks() + rank) * shape_.n;
  }
  // The sum over the ranks of gradients in this backend's memory, in place (queued on a GPU).
  void sum_gradients(T* grads, int64_t count) const {
    if (device_ranks_) device_ranks_->allreduce_sum(grads, count);
  }
  // The mean over the ranks of host values, in place.
  void mean_over_ranks(std::vector<double>& values) const {
    if (host_ranks_) host_ranks_->allreduce_sum(values.data(), int64_t(values.size()));
    for (double& v : values) v /= ranks();
  }

  // Step `step` (0-based) draws patches step * batch onwards; Adam's bias correction uses step + 1.
  // No host synchronisation: the loss stays on the device until loss() is read. On a GPU's fast
  // path the step is a replayed CUDA graph (models/fast_step_graph.h) unless use_step_graphs(false).
  void run(const PatchDataset& data, int64_t step, const AdamConfig& adam) {
#ifdef MDCSRN_HAVE_CUDA
    if constexpr (std::is_same_v<Backend, GpuBackend>) {
      if (fast_) return run_graphed(data, step, adam);
    }
#endif
    forward_backward(data, step);
    update(adam, step + 1);
  }
  // false: the fast path's steps run the graphs' work without capturing it (for comparisons).
  void use_step_graphs(bool enabled) { replay_ = enabled; }
  void forward_backward(const PatchDataset& data, int64_t step) {
    forward(data, step);
    backward();
  }
  // Samples the batch, runs the generator and the loss, and leaves the loss's gradient with
  // respect to the output in output_gradient(), where other terms may add theirs before backward().
  void forward(const PatchDataset& data, int64_t step) {
    data.sample(first_sample(step), int(shape_.n), lr_.data(), hr_.data(), centres_.data(), ctx_);
    input_ = &lr_, target_ = &hr_;
    run_generator(batch(lr_), batch(sr_), NormMode::Train);
    be_.loss_forward_backward(loss_kind_, batch(sr_), batch(hr_), share(), loss_.data(), batch(dsr_), GradMode::Overwrite);
  }
  // The generator on x, on the fast path when it is enabled (backward then reads what it left).
  void run_generator(Tensor<const T> x, Tensor<T> out, NormMode mode) {
    if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
      if (fast_) return fast_->forward(arena_.params(), x, out, mode, generator_);
    }
    generator_.forward(arena_.params(), x, out, mode);
  }
  // Run the generator's forward, backward and Adam through the fused bf16 kernels
  // (models/generator_fast.h) from now on: ctx a GPU backend's context, or for the CPU's fp32
  // backend a CpuFusedContext (check cpu_fused_unsupported() first). The reference generator then keeps only the running
  // statistics (its activations are never allocated).
  template <class Context>
  void enable_fast_path(Context& ctx) {
    static_assert(!std::is_same_v<Fast, NoFastGenerator>, "the fast path is for the GPU backends and the CPU's fp32 one");
#ifdef MDCSRN_HAVE_CUDA
    graph_.reset();  // its graphs hold the previous fast generator's buffers
    input_ = &lr_, target_ = &hr_;
#endif
    fast_ = std::make_unique<Fast>(layout_, ctx, shape_);
    if (device_ranks_) fast_->synchronize_batchnorm(*device_ranks_);
  }
  bool fast_path() const { return fast_ != nullptr; }
  void backward() {
    if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
      if (fast_) return fast_->backward(arena_.params(), arena_.grads(), batch(lr_), batch(dsr_));
    }
    generator_.backward(arena_.params(), arena_.grads(), batch(lr_), batch(dsr_), NormMode::Train);
  }
  // Adam update number t (1 for the first), after summing the gradients over the ranks.
  void update(const AdamConfig& adam, int64_t t) {
    sum_gradients(arena_.grads(), arena_.size());
    if constexpr (!std::is_same_v<Fast, NoFastGenerator>) {
      if (fast_) return fast_->update(adam_step(adam, t), arena_.params(), arena_.grads(), arena_.adam_m(), arena_.adam_v(), arena_.size());
    }
    be_.adam(adam_step(adam, t), arena_.params(), arena_.grads(), arena_.adam_m(), arena_.adam_v(), arena_.size());
  }
  // The last step's loss over the global batch (the mean of the ranks' losses).
  double loss() {
    be_.synchronize();
    std::vector<double> value{double(loss_.download()[0])};
    mean_over_ranks(value);
    return value[0];
  }
  // Each rank's share of a mean over the global batch: 1 / ranks.
  T share() const { return T(1) / T(ranks()); }

  Arena& arena() { return arena_; }
  Generator<Backend>& generator() { return generator_; }
  const Shape5& shape() const { return shape_; }
  // The last step's batch.
  const Buffer<T>& input() const { return *input_; }
  const Buffer<T>& target() const { return *target_; }
  const Buffer<T>& output() const { return sr_; }
  const Buffer<T>& output_gradient() const { return dsr_; }
  Buffer<T>& loss_buffer() { return loss_; }
  Tensor<T> batch(const Buffer<T>& b) const { return Tensor<T>(b.data(), shape_); }

 private:
#ifdef MDCSRN_HAVE_CUDA
  void run_graphed(const PatchDataset& data, int64_t step, const AdamConfig& adam) {
    const int64_t rank = host_ranks_ ? host_ranks_->rank() : 0;
    if (!graph_) graph_ = std::make_unique<FastStepGraph>(*ctx_, shape_.n, shape_.numel(), shape_.n * ranks(), shape_.n * rank);
    graph_->run(
        data, step, adam,
        [this](const float* lr, const float* hr, const AdamStep* s) {
          const Tensor<const T> x(lr, shape_), target(hr, shape_);
          fast_->forward(arena_.params(), x, batch(sr_), NormMode::Train, generator_);
          be_.loss_forward_backward(loss_kind_, batch(sr_), target, share(), loss_.data(), batch(dsr_), GradMode::Overwrite);
          fast_->backward(arena_.params(), arena_.grads(), x, batch(dsr_));
          sum_gradients(arena_.grads(), arena_.size());
          fast_->update_at(s, arena_.params(), arena_.grads(), arena_.adam_m(), arena_.adam_v(), arena_.size());
        },
        replay_);
    input_ = &graph_->input(), target_ = &graph_->target();
  }
#endif

  Backend be_;
  CudaContext* ctx_;
  const Communicator* host_ranks_ = nullptr;  // data-parallel ranks, if any
  const Collectives* device_ranks_ = nullptr;
  const GeneratorLayout& layout_;
  Shape5 shape_;
  LossKind loss_kind_;
  Arena arena_;
  Generator<Backend> generator_;
  Buffer<T> lr_, hr_, sr_, dsr_;
  const Buffer<T>* input_ = &lr_;
  const Buffer<T>* target_ = &hr_;
  bool replay_ = true;
  Buffer<int32_t> centres_;
  Buffer<T> loss_;
  using Fast = typename FastGeneratorOf<Backend>::type;
  std::unique_ptr<Fast> fast_;
#ifdef MDCSRN_HAVE_CUDA
  // Last, so that it goes first: its destructor waits for a replay that uses the buffers above.
  std::unique_ptr<FastStepGraph> graph_;
#endif
};

}  // namespace mdcsrn
