#include "tests/network_support.h"

namespace mdcsrn::test {

GeneratorCase generator_case(const GeneratorLayout& L, const Shape5& shape, uint64_t param_seed, uint64_t rng_seed) {
  std::mt19937_64 rng(rng_seed);
  GeneratorCase c;
  c.params = perturbed_generator_parameters(L, param_seed, rng);
  c.x = HostTensor<float>::dense(shape);
  c.dout = c.x;
  fill_random(c.x, rng);
  fill_random(c.dout, rng);
  const std::vector<double> pd = convert<double>(c.params);
  const HostTensor<double> x = convert<double>(c.x), dout = convert<double>(c.dout);
  c.out = c.dx = c.eval = x;
  c.grads.resize(pd.size());
  Generator<CpuBackend<double>> reference(L, {}, shape);
  reference.forward(pd.data(), x.in(), c.out.view, NormMode::Train);
  reference.backward(pd.data(), c.grads.data(), x.in(), dout.in(), NormMode::Train, &c.dx.view);
  c.running.assign(reference.running_stats(), reference.running_stats() + 2 * L.bn_channels());
  reference.forward(pd.data(), x.in(), c.eval.view, NormMode::Eval);
  return c;
}

CriticCase critic_case(const CriticLayout& L, int64_t batch, uint64_t param_seed, uint64_t rng_seed) {
  std::mt19937_64 rng(rng_seed);
  CriticCase c;
  c.params = perturbed_critic_parameters(L, param_seed, rng);
  const int64_t p = L.config().patch;
  c.x = HostTensor<float>::dense({batch, 1, p, p, p});
  c.dscores = HostTensor<float>::dense({batch, 1, 1, 1, 1});
  fill_random(c.x, rng);
  fill_random(c.dscores, rng, 0.2);
  const std::vector<double> pd = convert<double>(c.params);
  const HostTensor<double> x = convert<double>(c.x), dscores = convert<double>(c.dscores);
  c.dx = x;
  c.scores = dscores;
  c.grads.resize(pd.size());
  Critic<CpuBackend<double>> reference(L, {}, batch);
  reference.forward(pd.data(), x.in(), c.scores.view);
  reference.backward(pd.data(), c.grads.data(), GradMode::Overwrite, x.in(), dscores.in(), &c.dx.view);
  return c;
}

CriticPenalty critic_penalty(const CriticLayout& L, const CriticCase& c) {
  const std::vector<double> pd = convert<double>(c.params);
  const HostTensor<double> x = convert<double>(c.x);
  HostTensor<double> g = x, g_grad = x, scores = convert<double>(c.dscores), ones = scores;
  std::fill(ones.storage.begin(), ones.storage.end(), 1.0);
  Critic<CpuBackend<double>> reference(L, {}, x.view.shape.n, CriticDerivatives::Second);
  reference.forward(pd.data(), x.in(), scores.view);
  reference.backward(pd.data(), nullptr, std::nullopt, x.in(), ones.in(), &g.view);
  CriticPenalty p;
  cpu::gradient_penalty<double>(g.in(), kPenaltyWeight, 1.0, &p.value, g_grad.view);
  p.grads.assign(pd.size(), 0.0);
  reference.backward_of_input_gradient(pd.data(), p.grads.data(), x.in(), ones.in(), g_grad.in());
  return p;
}

AgeCase age_case(const AgeRegressorLayout& L, const Shape5& shape, uint64_t param_seed, uint64_t rng_seed) {
  std::mt19937_64 rng(rng_seed);
  AgeCase c;
  c.params = perturbed_age_parameters(L, param_seed, rng);
  c.x = HostTensor<float>::dense(shape);
  c.dout = HostTensor<float>::dense({shape.n, 1, 1, 1, 1});
  fill_random(c.x, rng);
  fill_random(c.dout, rng, 0.2);
  const std::vector<double> pd = convert<double>(c.params);
  const HostTensor<double> x = convert<double>(c.x), dout = convert<double>(c.dout);
  c.out = dout;
  c.eval = dout;
  c.grads.resize(pd.size());
  AgeRegressor<CpuBackend<double>> reference(L, {}, shape);
  reference.forward(pd.data(), x.in(), c.out.view, NormMode::Train);
  reference.backward(pd.data(), c.grads.data(), x.in(), dout.in(), NormMode::Train);
  c.running.assign(reference.running_stats(), reference.running_stats() + 2 * L.norm_channels());
  reference.forward(pd.data(), x.in(), c.eval.view, NormMode::Eval);
  return c;
}

AgeFloatRun run_age_case_in_float(const AgeRegressorLayout& L, const AgeCase& c) {
  AgeRegressor<CpuBackend<float>> model(L, {}, c.x.view.shape);
  AgeFloatRun run{c.dout, c.dout, std::vector<float>(c.params.size(), NAN)};
  model.forward(c.params.data(), c.x.in(), run.out.view, NormMode::Train);
  model.backward(c.params.data(), run.grads.data(), c.x.in(), c.dout.in(), NormMode::Train);
  model.forward(c.params.data(), c.x.in(), run.eval.view, NormMode::Eval);
  return run;
}

}  // namespace mdcsrn::test
