#pragma once
// One update of the WGAN critic on a batch of fakes and reals (REFERENCE.md section 3): the
// gradient of mean D(fake) - mean D(real) with the fakes detached, Adam, and the Lipschitz
// constraint of wgan.lipschitz (models/critic_constraint.h): clipping after the update, spectral
// normalisation, whose power iteration precedes the gradients and which carries them back to the
// raw weights, or the gradient penalty, whose parameter gradients join the loss's. mDCSRN-WGAN's step (models/wgan_step.h) runs it on SR and HR; a critic can also be
// trained alone with it. No host synchronisation; the score gradients are constants written once.
#include <memory>

#include "engine/arena.h"
#include "models/critic.h"
#include "models/critic_constraint.h"
#include "models/critic_spectral_norm.h"

namespace mdcsrn {

template <class Backend>
class CriticStep {
 public:
  using T = typename Backend::Scalar;

  // batch: the samples of fakes and of reals this process holds; share: 1 / the number of
  // processes that hold as many (the means run over the global batch).
  // seed: the gradient penalty's mixing draws (kernels/gradient_penalty.h).
  CriticStep(const CriticLayout& layout, Backend be, int64_t batch, T share, const CriticConstraint& constraint, uint64_t seed)
      : be_(be), constraint_(constraint), seed_(seed), share_(share), arena_(layout.table(), Backend::memory),
        critic_(layout, be, batch, constraint.kind == Lipschitz::GradientPenalty ? CriticDerivatives::Second : CriticDerivatives::First) {
    if (constraint.kind == Lipschitz::Spectral) {
      spectral_ = std::make_unique<CriticSpectralNorm<Backend>>(layout, be, constraint.power_iterations);
      critic_.read_weights_from(spectral_->weights());
    }
    penalty_ = Buffer<T>(Backend::memory, 1);
    penalty_.zero();
    if (constraint.kind == Lipschitz::GradientPenalty) {
      const int64_t elements = batch * int64_t(layout.config().patch) * layout.config().patch * layout.config().patch;
      for (Buffer<T>* b : {&mixed_, &input_grad_, &input_grad_grad_}) *b = Buffer<T>(Backend::memory, elements);
      for (Buffer<T>* b : {&mixed_scores_, &ones_}) *b = Buffer<T>(Backend::memory, batch);
      be_.mean_score_backward(batch, T(batch), ones_.data(), GradMode::Overwrite);  // each score's gradient 1: grad_x D per sample
    }
    for (Buffer<T>* b : {&fake_scores_, &real_scores_, &fake_grad_, &real_grad_}) {
      *b = Buffer<T>(Backend::memory, batch);
      b->zero();
    }
    // d(mean D(fake) - mean D(real))/dD(fake_i) = 1/n and /dD(real_i) = -1/n, n the global batch.
    be_.mean_score_backward(batch, share, fake_grad_.data(), GradMode::Overwrite);
    be_.mean_score_backward(batch, -share, real_grad_.data(), GradMode::Overwrite);
  }

  // The critic's parameter gradients (of its raw weights) for mean D(fake) - mean D(real), plus
  // the gradient penalty under that constraint, into the arena's gradients; the scores into
  // fake_scores() and real_scores(). first_sample: the global index of this process's first
  // sample, which picks the penalty's mixing weights.
  void gradients(Tensor<const T> fake, Tensor<const T> real, int64_t first_sample) {
    T* params = arena_.params();
    T* grads = arena_.grads();
    if (spectral_) {
      spectral_->iterate(params);
      spectral_->normalise(params);
    }
    critic_.forward(params, fake, scores(fake_scores_));
    critic_.backward(params, grads, GradMode::Overwrite, fake, scores(fake_grad_));
    critic_.forward(params, real, scores(real_scores_));
    critic_.backward(params, grads, GradMode::Accumulate, real, scores(real_grad_));
    if (spectral_) spectral_->backward(grads);
    if (constraint_.kind == Lipschitz::GradientPenalty) {
      const Tensor<T> mixed(mixed_.data(), fake.shape), input_grad_grad(input_grad_grad_.data(), fake.shape);
      const Tensor<T> ones = scores(ones_, fake.shape.n);
      Tensor<T> input_grad(input_grad_.data(), fake.shape);
      be_.penalty_interpolates(seed_, first_sample, fake, real, mixed);
      critic_.forward(params, mixed, scores(mixed_scores_, fake.shape.n));
      critic_.backward(params, grads, std::nullopt, mixed, ones, &input_grad);
      be_.gradient_penalty(input_grad, T(constraint_.gp_weight), share_, penalty_.data(), input_grad_grad);
      critic_.backward_of_input_gradient(params, grads, mixed, ones, input_grad_grad);
    }
  }
  // Adam on the arena's gradients (summed over the processes by then), then the clipping.
  void update(const AdamConfig& adam, int64_t t) {
    be_.adam(adam_step(adam, t), arena_.params(), arena_.grads(), arena_.adam_m(), arena_.adam_v(), arena_.size());
    if (constraint_.kind == Lipschitz::Clip) be_.clip(arena_.params(), arena_.size(), T(constraint_.clip));
  }
  // The critic as it stands after update(), for a pass through it (the generator's adversarial
  // term): under spectral normalisation its weights normalised again, with the step's vectors.
  Critic<Backend>& updated_critic() {
    if (spectral_) spectral_->normalise(arena_.params());
    return critic_;
  }

  Arena& arena() { return arena_; }
  CriticSpectralNorm<Backend>* spectral() { return spectral_.get(); }  // nullptr unless spectral
  const Buffer<T>& fake_scores() const { return fake_scores_; }        // of the last gradients()
  const Buffer<T>& real_scores() const { return real_scores_; }
  // gp_weight * mean over this process's samples of (||grad_x D(x_hat)|| - 1)^2 at the last
  // gradients(); 0 under the other constraints.
  const Buffer<T>& penalty() const { return penalty_; }
  const Buffer<T>& interpolates() const { return mixed_; }  // where it was evaluated (empty unless gp)

 private:
  Tensor<T> scores(const Buffer<T>& b) const { return scores(b, b.size()); }
  Tensor<T> scores(const Buffer<T>& b, int64_t n) const { return Tensor<T>(b.data(), Shape5{n, 1, 1, 1, 1}); }

  Backend be_;
  CriticConstraint constraint_;
  uint64_t seed_;
  T share_;
  Arena arena_;
  Critic<Backend> critic_;
  std::unique_ptr<CriticSpectralNorm<Backend>> spectral_;
  Buffer<T> fake_scores_, real_scores_, fake_grad_, real_grad_, penalty_;
  Buffer<T> mixed_, mixed_scores_, ones_, input_grad_, input_grad_grad_;  // the gradient penalty's
};

}  // namespace mdcsrn
