#pragma once
// Shared by the tests that hold a whole network on one backend against the CPU in double.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "models/age_regressor.h"
#include "models/critic.h"
#include "models/generator.h"
#include "tests/support.h"

namespace mdcsrn::test {

// Initial parameters with the normalisations' affines moved away from (1, 0), so that they matter.
inline std::vector<float> perturbed_generator_parameters(const GeneratorLayout& L, uint64_t seed, std::mt19937_64& rng) {
  std::vector<float> params = initial_generator_parameters(L, seed);
  for (const ParamEntry& e : L.table().entries())
    if (e.shape.size() == 1)  // BatchNorm weights and biases
      for (int64_t i = 0; i < e.numel; ++i) params[size_t(e.offset + i)] += 0.3f * std::uniform_real_distribution<float>(-1, 1)(rng);
  return params;
}

inline std::vector<float> perturbed_critic_parameters(const CriticLayout& L, uint64_t seed, std::mt19937_64& rng) {
  std::vector<float> params = initial_critic_parameters(L, seed);
  for (const CriticConvLayer& layer : L.convs())
    for (int index : {layer.norm_weight, layer.norm_bias})
      if (index >= 0)
        for (int64_t i = 0; i < L.table().entry(index).numel; ++i)
          params[size_t(L.table().entry(index).offset + i)] += 0.3f * std::uniform_real_distribution<float>(-1, 1)(rng);
  return params;
}

// One training forward and backward of the generator on random inputs, by the CPU in double: the
// reference another backend's step is held against. rng(rng_seed) perturbs the parameters (from
// seed param_seed), then draws x and dout.
struct GeneratorCase {
  std::vector<float> params;
  HostTensor<float> x, dout;
  HostTensor<double> out, dx;   // the training forward's output, the input's gradient
  std::vector<double> grads;    // every parameter's gradient
  std::vector<double> running;  // the running statistics after the training forward
  HostTensor<double> eval;      // an eval-mode forward with them
};
GeneratorCase generator_case(const GeneratorLayout& L, const Shape5& shape, uint64_t param_seed, uint64_t rng_seed);

// The same for the critic: scores of x, and the gradients for dscores.
struct CriticCase {
  std::vector<float> params;
  HostTensor<float> x, dscores;
  HostTensor<double> scores, dx;
  std::vector<double> grads;
};
CriticCase critic_case(const CriticLayout& L, int64_t batch, uint64_t param_seed, uint64_t rng_seed);

// The gradient penalty (lambda 10, one process) at the case's x, in double: its value and every
// parameter's gradient of it, through a critic built for second derivatives.
struct CriticPenalty {
  double value = 0;
  std::vector<double> grads;
};
CriticPenalty critic_penalty(const CriticLayout& L, const CriticCase& c);
constexpr double kPenaltyWeight = 10;

// The same for the brain-age regressor: a training forward and backward for dout, then an eval
// forward with the running statistics it left.
struct AgeCase {
  std::vector<float> params;
  HostTensor<float> x, dout;
  HostTensor<double> out, eval;
  std::vector<double> grads, running;
};
inline std::vector<float> perturbed_age_parameters(const AgeRegressorLayout& L, uint64_t seed, std::mt19937_64& rng) {
  std::vector<float> params = initial_age_regressor_parameters(L, seed);
  for (const NormLayer* n : L.norms())
    for (int index : {n->weight, n->bias})
      for (int64_t i = 0; i < L.table().entry(index).numel; ++i)
        params[size_t(L.table().entry(index).offset + i)] += 0.3f * std::uniform_real_distribution<float>(-1, 1)(rng);
  return params;
}
AgeCase age_case(const AgeRegressorLayout& L, const Shape5& shape, uint64_t param_seed, uint64_t rng_seed);

// What the CPU's float path makes of an AgeCase: the training forward, its gradients, the eval forward.
struct AgeFloatRun {
  HostTensor<float> out, eval;
  std::vector<float> grads;
};
AgeFloatRun run_age_case_in_float(const AgeRegressorLayout& L, const AgeCase& c);

// The largest relative error of any one parameter tensor, and its name.
inline double worst_parameter_error(const ParamTable& table, const std::vector<float>& got, const std::vector<double>& want,
                                    std::string& name) {
  double worst = 0;
  for (const ParamEntry& e : table.entries()) {
    const std::vector<double> a(got.begin() + e.offset, got.begin() + e.offset + e.numel);
    const std::vector<double> r(want.begin() + e.offset, want.begin() + e.offset + e.numel);
    const double err = relative_error(a, r);
    if (err > worst) worst = err, name = e.name;
  }
  return worst;
}

// worst_parameter_error for the age regressor, but for the BatchNorm affines that another
// BatchNorm follows (all but the head's): the next BatchNorm takes away most of what a channel's
// shift and scale change, so their gradients are ~1e3 times smaller than those of the convolution
// each feeds and cancel in summation (fp32 on a device: 1.8e-2 relative on a deep norm1.bias of
// DenseNet121). Their error is measured against the scale of that convolution's gradient
// (the stem's: conv0's) when it is the larger.
inline double worst_age_gradient_error(const AgeRegressorLayout& L, const std::vector<float>& got, const std::vector<double>& want,
                                       std::string& name) {
  const ParamTable& t = L.table();
  auto norm_of = [&](const ParamEntry& e, const auto& values, const std::vector<double>* minus) {
    double sum = 0;
    for (int64_t i = e.offset; i < e.offset + e.numel; ++i) sum += std::pow(double(values[size_t(i)]) - (minus ? (*minus)[size_t(i)] : 0.0), 2);
    return std::sqrt(sum);
  };
  std::map<int, int> convolution_beside;  // a BatchNorm affine's parameter index -> the convolution weight whose scale it is measured by
  auto pair = [&](const NormLayer& n, int conv) { convolution_beside[n.weight] = convolution_beside[n.bias] = conv; };
  pair(L.norm0(), L.conv0_weight());
  for (const DenseBlockLayout& b : L.blocks()) {
    for (const DenseUnitLayout& u : b.units) {
      pair(u.norm1, u.conv1_weight);
      pair(u.norm2, u.conv2_weight);
    }
    if (b.transition_weight >= 0) pair(b.transition_norm, b.transition_weight);
  }
  double worst = 0;
  for (int index = 0; index < int(t.entries().size()); ++index) {
    const ParamEntry& e = t.entries()[size_t(index)];
    double scale = norm_of(e, want, nullptr);
    if (const auto conv = convolution_beside.find(index); conv != convolution_beside.end())
      scale = std::max(scale, norm_of(t.entry(conv->second), want, nullptr));
    const double error = norm_of(e, got, &want) / std::max(scale, 1e-30);
    if (error > worst) {
      worst = error;
      name = e.name;
    }
  }
  return worst;
}

}  // namespace mdcsrn::test
