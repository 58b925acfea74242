#pragma once
// One batch of mDCSRN-WGAN training on a backend (REFERENCE.md section 3): the generator's forward
// and L1 loss; a critic step on SR (detached) and HR (models/critic_step.h: loss mean D(SR) - mean
// D(HR), Adam, and clipping, spectral normalisation or a gradient penalty); and, on the batches
// chosen for it, a generator step whose output gradient is the L1 term's plus adversarial_weight
// times the gradient of -mean D(SR) through the updated critic. No host synchronisation; the score gradients are
// constants written once.
#include <optional>
#include <vector>

#include "models/critic_step.h"
#include "models/generator_step.h"

namespace mdcsrn {

// Where a step sits in WGAN training: pretraining steps update the generator alone, on L1;
// afterwards the critic updates every step and the generator every n_critic-th, starting with
// the first. The Adam step numbers follow from the step index alone, so a resumed run continues
// exactly.
struct WganSchedule {
  int64_t pretrain_steps = 0;
  int n_critic = 5;

  bool adversarial(int64_t step) const { return step >= pretrain_steps; }
  int64_t critic_update(int64_t step) const { return step - pretrain_steps + 1; }  // for adversarial steps
  bool generator_updates(int64_t step) const { return !adversarial(step) || (step - pretrain_steps) % n_critic == 0; }
  // Adam's t for the generator update at `step` (where generator_updates(step)).
  int64_t generator_update(int64_t step) const {
    return adversarial(step) ? pretrain_steps + (step - pretrain_steps) / n_critic + 1 : step + 1;
  }
};

// Means of the last critic step's scores and the last generator update's adversarial term.
struct WganStats {
  double critic_loss = 0;   // mean D(SR) - mean D(HR)
  double wasserstein = 0;   // mean D(HR) - mean D(SR), the critic's estimate of the distance
  double adversarial = 0;   // adversarial_weight * -mean D(SR) at the last generator update
  double gradient_penalty = 0;  // gp_weight * mean (||grad D(x_hat)|| - 1)^2 (wgan.lipschitz gp; else 0)
};

template <class Backend>
class WganStep {
 public:
  using T = typename Backend::Scalar;

  // seed: the gradient penalty's mixing draws.
  WganStep(const CriticLayout& layout, Backend be, GeneratorStep<Backend>& generator, float adversarial_weight,
           const CriticConstraint& constraint, uint64_t seed)
      : be_(be), generator_(generator), layout_(layout), critic_(layout, be, generator.shape().n, generator.share(), constraint, seed),
        weight_(adversarial_weight) {
    const int64_t n = generator.shape().n;
    for (Buffer<T>* b : {&generator_scores_, &generator_grad_}) {
      *b = Buffer<T>(Backend::memory, n);
      b->zero();
    }
    means_ = Buffer<T>(Backend::memory, 4);
    // d(adversarial term)/dD(SR_i) = -weight/n, n the global batch (each rank holds its share of
    // it; the critic has no batch statistics, so nothing else couples them).
    be_.mean_score_backward(n, T(-adversarial_weight) * generator.share(), generator_grad_.data(), GradMode::Overwrite);
  }

  // critic_t: the critic's Adam step number; generator_t: the generator's on batches where it
  // updates (t >= 1), 0 on the others.
  void run(const PatchDataset& data, int64_t step, const AdamConfig& generator_adam, const AdamConfig& critic_adam, int64_t critic_t,
           int64_t generator_t) {
    critic_gradients(data, step);
    update_critic(critic_adam, critic_t);
    if (generator_t > 0) step_generator(generator_adam, generator_t);
  }

  // The parts of run(), in order. First: the generator's forward and L1 term on batch `step`,
  // then the critic's gradient for mean D(SR) - mean D(HR) in the critic arena's gradients.
  void critic_gradients(const PatchDataset& data, int64_t step) {
    generator_.forward(data, step);
    critic_.gradients(generator_.batch(generator_.output()), generator_.batch(generator_.target()), generator_.first_sample(step));
  }
  void update_critic(const AdamConfig& critic_adam, int64_t critic_t) {
    generator_.sum_gradients(critic_.arena().grads(), critic_.arena().size());
    critic_.update(critic_adam, critic_t);
  }
  // The generator's step on the same batch: L1 plus the adversarial term through the updated critic.
  void step_generator(const AdamConfig& generator_adam, int64_t generator_t) {
    const Tensor<T> sr = generator_.batch(generator_.output());
    Tensor<T> dsr = generator_.batch(generator_.output_gradient());
    Critic<Backend>& critic = critic_.updated_critic();
    const T* params = critic_.arena().params();
    critic.forward(params, sr, scores(generator_scores_));
    critic.backward(params, critic_.arena().grads(), std::nullopt, sr, scores(generator_grad_), &dsr, GradMode::Accumulate);
    generator_.backward();
    generator_.update(generator_adam, generator_t);
  }

  // Synchronises; for the log.
  WganStats stats() {
    const int64_t n = generator_scores_.size();
    be_.mean_score(critic_.fake_scores().data(), n, means_.data());
    be_.mean_score(critic_.real_scores().data(), n, means_.data() + 1);
    be_.mean_score(generator_scores_.data(), n, means_.data() + 2);
    be_.mean_score(critic_.penalty().data(), 1, means_.data() + 3);  // a copy, queued like the others
    be_.synchronize();
    const std::vector<T> device_means = means_.download();
    std::vector<double> means(device_means.begin(), device_means.end());
    generator_.mean_over_ranks(means);
    WganStats s;
    s.critic_loss = double(means[0]) - double(means[1]);
    s.wasserstein = -s.critic_loss;
    s.adversarial = -double(weight_) * double(means[2]);
    s.gradient_penalty = means[3];
    return s;
  }

  Arena& arena() { return critic_.arena(); }
  CriticSpectralNorm<Backend>* spectral() { return critic_.spectral(); }  // nullptr unless wgan.lipschitz is spectral
  const Buffer<T>& fake_scores() const { return critic_.fake_scores(); }  // D(SR) of the last critic step
  const Buffer<T>& real_scores() const { return critic_.real_scores(); }  // D(HR)
  const Buffer<T>& interpolates() const { return critic_.interpolates(); }  // the gradient penalty's mixes of SR and HR
  const Buffer<T>& penalty() const { return critic_.penalty(); }
  const CriticLayout& layout() const { return layout_; }

 private:
  Tensor<T> scores(const Buffer<T>& b) const { return Tensor<T>(b.data(), Shape5{b.size(), 1, 1, 1, 1}); }

  Backend be_;
  GeneratorStep<Backend>& generator_;
  const CriticLayout& layout_;
  CriticStep<Backend> critic_;
  float weight_;
  Buffer<T> generator_scores_, generator_grad_, means_;
};

}  // namespace mdcsrn
