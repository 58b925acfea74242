#include <cmath>

#include "kernels/random.h"
#include "models/generator.h"

namespace mdcsrn {

std::vector<float> initial_generator_parameters(const GeneratorLayout& layout, uint64_t seed) {
  std::vector<float> params(static_cast<size_t>(layout.table().padded_size()), 0.f);
  const auto& entries = layout.table().entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const ParamEntry& e = entries[i];
    float* p = params.data() + e.offset;
    if (e.shape.size() == 1) {  // BatchNorm
      const bool weight = e.name.ends_with(".weight");
      std::fill(p, p + e.numel, weight ? 1.f : 0.f);
      continue;
    }
    const double fan_in = double(e.numel / e.shape[0]);
    const bool unit_conv = e.name.find(".units.") != std::string::npos;
    const double bound = unit_conv ? 1.0 / std::sqrt(fan_in) : std::sqrt(6.0 / fan_in);
    cpu::philox_uniform<float>(seed, uint32_t(i), float(-bound), float(bound), p, e.numel);
  }
  return params;
}

}  // namespace mdcsrn
