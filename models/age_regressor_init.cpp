#include <cmath>

#include "kernels/random.h"
#include "models/age_regressor.h"

namespace mdcsrn {

std::vector<float> initial_age_regressor_parameters(const AgeRegressorLayout& layout, uint64_t seed) {
  // Streams from 4096 on: the generator's start at 0, the critic's at 1024. Normal draws by
  // Box-Muller from two uniform streams per tensor.
  constexpr uint32_t kFirstStream = 4096;
  std::vector<float> params(static_cast<size_t>(layout.table().padded_size()), 0.f);
  const auto& entries = layout.table().entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const ParamEntry& e = entries[i];
    float* p = params.data() + e.offset;
    const uint32_t stream = kFirstStream + 2 * uint32_t(i);
    const double fan_in = double(e.numel / e.shape[0]);
    if (e.shape.size() == 1) {  // BatchNorm weight or bias, or the head's bias
      std::fill(p, p + e.numel, e.name.ends_with(".weight") ? 1.f : 0.f);
    } else if (e.shape.size() == 2) {  // the linear head
      const double bound = 1.0 / std::sqrt(fan_in);
      cpu::philox_uniform<float>(seed, stream, float(-bound), float(bound), p, e.numel);
    } else {
      std::vector<double> u1(size_t(e.numel)), u2(size_t(e.numel));
      cpu::philox_uniform<double>(seed, stream, 0.0, 1.0, u1.data(), e.numel);
      cpu::philox_uniform<double>(seed, stream + 1, 0.0, 1.0, u2.data(), e.numel);
      const double std_dev = std::sqrt(2.0 / fan_in);
      for (int64_t k = 0; k < e.numel; ++k)
        p[k] = float(std_dev * std::sqrt(-2.0 * std::log1p(-u1[size_t(k)])) * std::cos(2 * M_PI * u2[size_t(k)]));
    }
  }
  return params;
}

}  // namespace mdcsrn
