#pragma once
// How mDCSRN-WGAN keeps its critic (approximately) 1-Lipschitz, wgan.lipschitz: by clipping every
// parameter to +-clip after each update (the paper's reference [37], Arjovsky et al. 2017), or by
// spectral normalisation of every convolution and linear layer (Miyato et al. 2018;
// models/critic_spectral_norm.h), with `power_iterations` power iterations a critic step.
namespace mdcsrn {

enum class Lipschitz { Clip, Spectral };

struct CriticConstraint {
  Lipschitz kind = Lipschitz::Clip;
  float clip = 0.01f;        // kind Clip
  int power_iterations = 1;  // kind Spectral
};

}  // namespace mdcsrn
