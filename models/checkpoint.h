#pragma once
// Generator checkpoints in the safetensors layout with PyTorch module names: the parameters
// (conv0.weight, blocks.0.units.0.bn.weight, ...), the
// BatchNorm buffers (running_mean, running_var, num_batches_tracked), Adam's moments under
// optimizer.<name>.exp_avg / exp_avg_sq, and the training position and configuration as metadata.
// WGAN checkpoints add the critic under critic.<name> (its own PyTorch names) with its moments
// under optimizer.critic.<name>.*; a generator-only reader (infer) ignores them. Spatial axes are
// in nibabel's order (io/nibabel_order.h): conv weights [out, in, kx, ky, kz], so that PyTorch
// modules loading them compute on nibabel's arrays what the engine computes on the volume.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/critic_layout.h"
#include "models/generator_layout.h"

namespace mdcsrn {

class SafeTensors;

struct GeneratorState {
  std::vector<float> params;   // arena layout (ParamTable offsets), host memory
  std::vector<float> adam_m, adam_v;  // same layout; empty when absent
  std::vector<float> running;  // running means then variances (GeneratorLayout::bn_channels() each)
  int64_t step = 0;            // optimiser steps taken
  std::string config_json;     // the training configuration
};

struct CriticState {
  std::vector<float> params, adam_m, adam_v;  // critic arena layout, host memory
  // Under spectral normalisation, every weight's u and v (models/critic_spectral_norm.h's
  // SpectralVectorLayout), saved as critic.<weight>_u and critic.<weight>_v (the names of PyTorch's
  // torch.nn.utils.spectral_norm buffers; critic.<weight> is its weight_orig); empty otherwise.
  std::vector<float> spectral;
};

// Spectral vectors (SpectralVectorLayout) as tensors prefix<weight>_u and prefix<weight>_v, v with the
// weight's shape less its outputs so that its kernel axes go to nibabel's order as the weight's.
std::vector<int64_t> spectral_v_shape(const ParamEntry& weight);
void add_spectral_vectors(SafeTensors& st, const std::string& prefix, const CriticLayout& layout, const std::vector<float>& vectors);

void save_checkpoint(const std::string& path, const GeneratorLayout& layout, const GeneratorState& state,
                     const CriticLayout* critic_layout = nullptr, const CriticState* critic = nullptr);
// Throws naming the file when a tensor is missing or has the wrong shape for this layout.
GeneratorState load_checkpoint(const std::string& path, const GeneratorLayout& layout);
// The critic of a WGAN checkpoint; nullopt when the file has none (a generator-only checkpoint).
std::optional<CriticState> load_critic(const std::string& path, const CriticLayout& layout);

}  // namespace mdcsrn
