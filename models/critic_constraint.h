#pragma once
// How mDCSRN-WGAN keeps its critic (approximately) 1-Lipschitz, wgan.lipschitz: by clipping every
// parameter to +-clip after each update (the paper's reference [37], Arjovsky et al. 2017), by
// spectral normalisation of every convolution and linear layer (Miyato et al. 2018;
// models/critic_spectral_norm.h), with `power_iterations` power iterations a critic step, or by a
// gradient penalty (Gulrajani et al. 2017): gp_weight * mean (||grad_x D(x_hat)|| - 1)^2 added to
// the critic's loss, x_hat random mixes of SR and HR (kernels/gradient_penalty.h).
namespace mdcsrn {

enum class Lipschitz { Clip, Spectral, GradientPenalty };

struct CriticConstraint {
  Lipschitz kind = Lipschitz::Clip;
  float clip = 0.01f;        // kind Clip
  int power_iterations = 1;  // kind Spectral
  float gp_weight = 10.f;    // kind GradientPenalty: lambda
};

}  // namespace mdcsrn
