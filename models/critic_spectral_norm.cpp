#include "models/critic_spectral_norm.h"

#include <algorithm>
#include <cmath>

#include "kernels/random.h"
#include "kernels/spectral_norm.h"

namespace mdcsrn {

std::vector<float> initial_spectral_vectors(const CriticLayout& layout, const std::vector<float>& params, uint64_t seed) {
  // Streams from 2048 on: the critic's parameters use 1024 + index.
  constexpr uint32_t kFirstStream = 2048;
  constexpr int kStartIterations = 15;  // PyTorch's
  const SpectralVectorLayout at(layout);
  std::vector<float> vectors(size_t(at.size));
  const std::vector<CriticWeightMatrix> matrices = layout.weight_matrices();
  for (size_t k = 0; k < matrices.size(); ++k) {
    const CriticWeightMatrix& m = matrices[k];
    std::vector<double> w(size_t(m.rows * m.columns)), u(size_t(m.rows)), v(size_t(m.columns));
    const float* raw = params.data() + layout.table().entry(m.weight).offset;
    for (size_t i = 0; i < w.size(); ++i) w[i] = double(raw[i]);
    // The iterations start from v (the first computes u from it).
    std::vector<float> start(v.size());
    cpu::philox_uniform<float>(seed, kFirstStream + uint32_t(k), -1.f, 1.f, start.data(), int64_t(start.size()));
    double squares = 0;
    for (const float x : start) squares += double(x) * double(x);
    const double norm = std::max(std::sqrt(squares), kSpectralNormEps);
    for (size_t i = 0; i < v.size(); ++i) v[i] = double(start[i]) / norm;
    cpu::spectral_power_iteration<double>(w.data(), m.rows, m.columns, u.data(), v.data(), kStartIterations);
    for (size_t i = 0; i < u.size(); ++i) vectors[size_t(at.u[k]) + i] = float(u[i]);
    for (size_t i = 0; i < v.size(); ++i) vectors[size_t(at.v[k]) + i] = float(v[i]);
  }
  return vectors;
}

}  // namespace mdcsrn
