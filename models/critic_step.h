#pragma once
// One update of the WGAN critic on a batch of fakes and reals (REFERENCE.md section 3): the
// gradient of mean D(fake) - mean D(real) with the fakes detached, Adam, and the Lipschitz
// constraint of wgan.lipschitz (models/critic_constraint.h): clipping after the update, or spectral
// normalisation, whose power iteration precedes the gradients and which carries them back to the
// raw weights. mDCSRN-WGAN's step (models/wgan_step.h) runs it on SR and HR; a critic can also be
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
  CriticStep(const CriticLayout& layout, Backend be, int64_t batch, T share, const CriticConstraint& constraint)
      : be_(be), constraint_(constraint), arena_(layout.table(), Backend::memory), critic_(layout, be, batch) {
    if (constraint.kind == Lipschitz::Spectral) {
      spectral_ = std::make_unique<CriticSpectralNorm<Backend>>(layout, be, constraint.power_iterations);
      critic_.read_weights_from(spectral_->weights());
    }
    for (Buffer<T>* b : {&fake_scores_, &real_scores_, &fake_grad_, &real_grad_}) {
      *b = Buffer<T>(Backend::memory, batch);
      b->zero();
    }
    // d(mean D(fake) - mean D(real))/dD(fake_i) = 1/n and /dD(real_i) = -1/n, n the global batch.
    be_.mean_score_backward(batch, share, fake_grad_.data(), GradMode::Overwrite);
    be_.mean_score_backward(batch, -share, real_grad_.data(), GradMode::Overwrite);
  }

  // The critic's parameter gradients (of its raw weights) for mean D(fake) - mean D(real) into the
  // arena's gradients, and the scores into fake_scores() and real_scores().
  void gradients(Tensor<const T> fake, Tensor<const T> real) {
    if (spectral_) {
      spectral_->iterate(arena_.params());
      spectral_->normalise(arena_.params());
    }
    critic_.forward(arena_.params(), fake, scores(fake_scores_));
    critic_.backward(arena_.params(), arena_.grads(), GradMode::Overwrite, fake, scores(fake_grad_));
    critic_.forward(arena_.params(), real, scores(real_scores_));
    critic_.backward(arena_.params(), arena_.grads(), GradMode::Accumulate, real, scores(real_grad_));
    if (spectral_) spectral_->backward(arena_.grads());
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

 private:
  Tensor<T> scores(const Buffer<T>& b) const { return Tensor<T>(b.data(), Shape5{b.size(), 1, 1, 1, 1}); }

  Backend be_;
  CriticConstraint constraint_;
  Arena arena_;
  Critic<Backend> critic_;
  std::unique_ptr<CriticSpectralNorm<Backend>> spectral_;
  Buffer<T> fake_scores_, real_scores_, fake_grad_, real_grad_;
};

}  // namespace mdcsrn
