#pragma once
// Generator checkpoints in the safetensors layout with PyTorch module names: the parameters
// (conv0.weight, blocks.0.units.0.bn.weight, ..., [out, in, kd, kh, kw] conv weights), the
// BatchNorm buffers (running_mean, running_var, num_batches_tracked), Adam's moments under
// optimizer.<name>.exp_avg / exp_avg_sq, and the training position and configuration as metadata.
#include <cstdint>
#include <string>
#include <vector>

#include "models/generator_layout.h"

namespace mdcsrn {

struct GeneratorState {
  std::vector<float> params;   // arena layout (ParamTable offsets), host memory
  std::vector<float> adam_m, adam_v;  // same layout; empty when absent
  std::vector<float> running;  // running means then variances (GeneratorLayout::bn_channels() each)
  int64_t step = 0;            // optimiser steps taken
  std::string config_json;     // the training configuration
};

void save_checkpoint(const std::string& path, const GeneratorLayout& layout, const GeneratorState& state);
// Throws naming the file when a tensor is missing or has the wrong shape for this layout.
GeneratorState load_checkpoint(const std::string& path, const GeneratorLayout& layout);

}  // namespace mdcsrn
