#include <cmath>

#include "kernels/random.h"
#include "models/critic.h"

namespace mdcsrn {

std::vector<float> initial_critic_parameters(const CriticLayout& layout, uint64_t seed) {
  // Streams from 1024 on: the generator's initialisation uses one stream per tensor from 0.
  constexpr uint32_t kFirstStream = 1024;
  std::vector<float> params(static_cast<size_t>(layout.table().padded_size()), 0.f);
  const auto& entries = layout.table().entries();
  auto fan_in = [&](int weight) {
    const ParamEntry& w = layout.table().entry(weight);
    return double(w.numel / w.shape[0]);
  };
  auto uniform = [&](int index, double bound) {
    const ParamEntry& e = layout.table().entry(index);
    cpu::philox_uniform<float>(seed, kFirstStream + uint32_t(index), float(-bound), float(bound), params.data() + e.offset, e.numel);
  };
  auto conv = [&](int weight, int bias) {
    const double bound = 1.0 / std::sqrt(fan_in(weight));
    uniform(weight, bound);
    uniform(bias, bound);
  };
  for (const CriticConvLayer& l : layout.convs()) {
    conv(l.weight, l.bias);
    if (l.norm_weight < 0) continue;
    const ParamEntry& w = entries[size_t(l.norm_weight)];
    std::fill(params.begin() + w.offset, params.begin() + w.offset + w.numel, 1.f);
  }
  conv(layout.fc1_weight(), layout.fc1_bias());
  conv(layout.fc2_weight(), layout.fc2_bias());
  return params;
}

}  // namespace mdcsrn
