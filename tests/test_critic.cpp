#include <algorithm>
#include <numeric>

#include "models/critic.h"
#include "models/critic_spectral_norm.h"
#include "models/critic_step.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// The critic written plainly from REFERENCE.md section 3 in double: the direct convolution, and
// LayerNorm, LeakyReLU, pooling and the 1^3 head as loops of their definitions.
std::vector<double> reference_scores(const CriticLayout& L, const std::vector<double>& params, const HostTensor<double>& x) {
  const ParamTable& t = L.table();
  auto P = [&](int index) { return params.data() + t.entry(index).offset; };
  const double slope = L.config().slope;
  auto leaky = [&](double v) { return v > 0 ? v : slope * v; };
  HostTensor<double> a = x;
  for (const CriticConvLayer& layer : L.convs()) {
    HostTensor<double> z = HostTensor<double>::dense(conv_output_shape(a.view.shape, layer.out_channels, layer.conv));
    cpu::reference::conv3d_forward<double>(layer.conv, a.in(), P(layer.weight), P(layer.bias), z.view);
    const int64_t per_sample = z.view.shape.c * z.view.shape.spatial();
    for (int64_t n = 0; n < z.view.shape.n; ++n) {
      double* v = z.view.plane(n, 0);
      if (layer.norm_weight >= 0) {
        double mean = 0, var = 0;
        for (int64_t e = 0; e < per_sample; ++e) mean += v[e] / double(per_sample);
        for (int64_t e = 0; e < per_sample; ++e) var += (v[e] - mean) * (v[e] - mean) / double(per_sample);
        for (int64_t e = 0; e < per_sample; ++e)
          v[e] = (v[e] - mean) / std::sqrt(var + 1e-5) * P(layer.norm_weight)[e] + P(layer.norm_bias)[e];
      }
      for (int64_t e = 0; e < per_sample; ++e) v[e] = leaky(v[e]);
    }
    a = z;
  }
  const int64_t channels = a.view.shape.c, hidden = L.config().hidden;
  std::vector<double> scores;
  for (int64_t n = 0; n < a.view.shape.n; ++n) {
    std::vector<double> pooled(size_t(channels), 0.0);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < a.view.shape.spatial(); ++s) pooled[size_t(c)] += a.view.plane(n, c)[s] / double(a.view.shape.spatial());
    double score = P(L.fc2_bias())[0];
    for (int64_t h = 0; h < hidden; ++h) {
      double v = P(L.fc1_bias())[h];
      for (int64_t c = 0; c < channels; ++c) v += P(L.fc1_weight())[h * channels + c] * pooled[size_t(c)];
      score += P(L.fc2_weight())[h] * leaky(v);
    }
    scores.push_back(score);
  }
  return scores;
}

// Initial parameters with the LayerNorm affines moved off (1, 0), so that they matter.
std::vector<double> random_parameters(const CriticLayout& L, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> p = convert<double>(initial_critic_parameters(L, seed));
  for (const CriticConvLayer& layer : L.convs())
    for (int index : {layer.norm_weight, layer.norm_bias}) {
      if (index < 0) continue;
      const ParamEntry& e = L.table().entry(index);
      for (int64_t i = 0; i < e.numel; ++i) p[size_t(e.offset + i)] += 0.3 * std::uniform_real_distribution<double>(-1, 1)(rng);
    }
  return p;
}

// Forward of `batch` random inputs through a critic built for `capacity`, against the plain definition.
void check_forward(const CriticLayout& L, const std::vector<double>& params, int64_t batch, int64_t capacity, uint64_t seed) {
  std::mt19937_64 rng(seed);
  HostTensor<double> x = HostTensor<double>::dense({batch, 1, 16, 16, 16}), scores = HostTensor<double>::dense({batch, 1, 1, 1, 1});
  fill_random(x, rng);
  Critic<CpuBackend<double>> critic(L, {}, capacity);
  critic.forward(params.data(), x.in(), scores.view);
  CHECK(relative_error(gather(scores), reference_scores(L, params, x)) < 1e-12);
}

CriticConfig tiny(float slope) {
  CriticConfig c;
  c.patch = 16;
  c.widths = {2, 3, 3, 4};
  c.hidden = 5;
  c.slope = slope;
  return c;
}

// Textured patches (uniform noise smoothed by three passes of a 3-voxel mean along each axis,
// wrapping, then scaled to [0, 1]) and the same blurred by one more 3x3x3 mean: what a critic has
// to tell apart when SR lacks HR's finest detail.
void smooth_along_axes(std::vector<float>& v, int edge) {
  std::vector<float> out(v.size());
  const int64_t strides[3] = {1, edge, int64_t(edge) * edge};
  for (const int64_t stride : strides) {
    for (int64_t i = 0; i < int64_t(v.size()); ++i) {
      const int64_t sample = i / (int64_t(edge) * edge * edge), within = i % (int64_t(edge) * edge * edge);
      const int64_t coordinate = within / stride % edge, base = sample * edge * edge * edge + within - coordinate * stride;
      const auto at = [&](int64_t c) { return v[size_t(base + (c + edge) % edge * stride)]; };
      out[size_t(i)] = (at(coordinate - 1) + at(coordinate) + at(coordinate + 1)) / 3.f;
    }
    v.swap(out);
  }
}

struct SharpAndBlurred {
  std::vector<float> sharp, blurred;
};

SharpAndBlurred textured_patches(int64_t count, int edge, uint64_t seed) {
  std::mt19937_64 rng(seed);
  SharpAndBlurred p{random_values<float>(count * edge * edge * edge, rng), {}};
  for (int pass = 0; pass < 3; ++pass) smooth_along_axes(p.sharp, edge);
  for (int64_t n = 0; n < count; ++n) {
    const auto first = p.sharp.begin() + n * edge * edge * edge, last = first + edge * edge * edge;
    const auto [low, high] = std::minmax_element(first, last);
    const float lo = *low, range = *high - *low;
    std::transform(first, last, first, [&](float x) { return (x - lo) / range; });
  }
  p.blurred = p.sharp;
  smooth_along_axes(p.blurred, edge);
  return p;
}

TEST_SUITE("critic") {
  TEST_CASE("the default critic: parameter count, PyTorch names and shapes") {
    const CriticLayout L{CriticConfig{}};
    CHECK(L.table().parameter_count() == 16647745);
    const ParamTable& t = L.table();
    auto shape = [&](const std::string& name) {
      REQUIRE_MESSAGE(t.find(name) >= 0, name);
      return t.entry(t.find(name)).shape;
    };
    CHECK(shape("conv0.weight") == std::vector<int64_t>{64, 1, 3, 3, 3});
    CHECK(shape("conv0.bias") == std::vector<int64_t>{64});
    CHECK(shape("layers.0.conv.weight") == std::vector<int64_t>{64, 64, 3, 3, 3});
    CHECK(shape("layers.0.norm.weight") == std::vector<int64_t>{64, 16, 16, 16});
    CHECK(shape("layers.1.conv.weight") == std::vector<int64_t>{128, 64, 3, 3, 3});
    CHECK(shape("layers.1.norm.bias") == std::vector<int64_t>{128, 16, 16, 16});
    CHECK(shape("layers.6.conv.weight") == std::vector<int64_t>{512, 512, 3, 3, 3});
    CHECK(shape("layers.6.norm.weight") == std::vector<int64_t>{512, 2, 2, 2});
    CHECK(shape("fc1.weight") == std::vector<int64_t>{1024, 512, 1, 1, 1});
    CHECK(shape("fc2.weight") == std::vector<int64_t>{1, 1024, 1, 1, 1});
    CHECK(shape("fc2.bias") == std::vector<int64_t>{1});
    CHECK(t.find("layers.7.conv.weight") < 0);
    std::vector<int> strides;
    for (const CriticConvLayer& l : L.convs()) strides.push_back(l.conv.stride);
    CHECK(strides == std::vector<int>{1, 2, 1, 2, 1, 2, 1, 2});
    CHECK(L.convs().back().output_edge == 2);
    CHECK_THROWS_WITH_AS(CriticLayout(CriticConfig{24}), doctest::Contains("multiple of 16"), Error);
  }

  TEST_CASE("forward matches the plain definition") {
    for (float slope : {0.2f, 1.f}) {
      CAPTURE(slope);
      const CriticLayout L(tiny(slope));
      check_forward(L, random_parameters(L, 3), 3, 4, 4);
    }
  }

  TEST_CASE("gradients of every parameter and of the input match finite differences (double)") {
    // LeakyReLU's kink: a central difference straddles it only when a pre-activation lies within
    // the step (1e-6) of zero, which these seeds avoid; elsewhere the network is smooth.
    const FdOptions fd{8, 1e-6, 1e-5, 1e-9};
    for (float slope : {0.2f, 1.f}) {
      CAPTURE(slope);
      const CriticLayout L(tiny(slope));
      std::vector<double> params = random_parameters(L, 5);
      std::mt19937_64 rng(6);
      HostTensor<double> x = HostTensor<double>::dense({2, 1, 16, 16, 16}), dx = x;
      HostTensor<double> scores = HostTensor<double>::dense({2, 1, 1, 1, 1}), dscores = scores;
      fill_random(x, rng);
      fill_random(dscores, rng, 0.2);
      const std::vector<double> r = gather(dscores);
      Critic<CpuBackend<double>> critic(L, {}, 2);
      auto loss = [&] {
        critic.forward(params.data(), x.in(), scores.view);
        return weighted_sum(gather(scores), r);
      };
      loss();
      std::vector<double> grads(params.size(), 0.0);
      critic.backward(params.data(), grads.data(), GradMode::Overwrite, x.in(), dscores.in(), &dx.view);
      check_every_parameter(L.table(), params, grads, loss, fd);
      check_finite_differences("input", x.storage, view_offsets(x), dx.storage, loss, fd);
    }
  }

  TEST_CASE("the backward of each op's backward, as backward_of_input_gradient composes it, matches finite differences (double)") {
    // L = <r, backward(...)>: its gradients with respect to the backward's inputs. A convolution's
    // data gradient differentiates to the forward (of r) and the weight gradient (of r and dy);
    // global average pooling's to its forward; LeakyReLU's to itself (its slope is constant away
    // from 0, so nothing reaches x). LayerNorm's has its own op (cpu.layernorm).
    const FdOptions fd{24, 1e-6, 1e-6, 1e-9};
    std::mt19937_64 rng(17);
    for (const ConvParams p : {ConvParams{3, 1, 1}, ConvParams{3, 2, 1}, ConvParams{1, 1, 0}}) {
      CAPTURE(p.stride);
      CAPTURE(p.kernel);
      const int64_t edge = p.kernel == 1 ? 1 : 6;
      const Shape5 in{2, 3, edge, edge, edge}, out = conv_output_shape(in, 4, p);
      HostTensor<double> dy = HostTensor<double>::dense(out), r = HostTensor<double>::dense(in), dx = r;
      HostTensor<double> dy_grad = dy;
      fill_random(dy, rng);
      fill_random(r, rng);
      std::vector<double> w = random_values<double>(4 * 3 * p.kernel * p.kernel * p.kernel, rng), w_grad(w.size());
      const std::vector<double> weights = gather(r);
      auto loss = [&] {
        cpu::conv3d_backward_data<double>(p, w.data(), dy.in(), dx.view, GradMode::Overwrite);
        return weighted_sum(gather(dx), weights);
      };
      cpu::conv3d_forward<double>(p, r.in(), w.data(), nullptr, dy_grad.view);
      cpu::conv3d_backward_weight<double>(p, r.in(), dy.in(), w_grad.data(), nullptr, GradMode::Overwrite);
      std::vector<int64_t> all(w.size());
      std::iota(all.begin(), all.end(), int64_t(0));
      check_finite_differences("dy", dy.storage, view_offsets(dy), dy_grad.storage, loss, fd);
      check_finite_differences("weight", w, all, w_grad, loss, fd);
    }
    {
      const Shape5 features{2, 3, 2, 2, 2};
      HostTensor<double> dp = HostTensor<double>::dense(pooled_shape(features)), r = HostTensor<double>::dense(features), da = r;
      HostTensor<double> dp_grad = dp;
      fill_random(dp, rng);
      fill_random(r, rng);
      const std::vector<double> weights = gather(r);
      auto loss = [&] {
        cpu::global_avg_pool_backward<double>(dp.in(), da.view, GradMode::Overwrite);
        return weighted_sum(gather(da), weights);
      };
      cpu::global_avg_pool_forward<double>(r.in(), dp_grad.view);
      check_finite_differences("pooled", dp.storage, view_offsets(dp), dp_grad.storage, loss, fd);
    }
    {
      const ActivationSpec leaky{Activation::LeakyRelu, 0.2f};
      const Shape5 s{2, 3, 2, 2, 2};
      HostTensor<double> x = HostTensor<double>::dense(s), dy = x, r = x, dx = x, dy_grad = x;
      fill_random(x, rng, 0.1);  // away from the kink
      fill_random(dy, rng);
      fill_random(r, rng);
      const std::vector<double> weights = gather(r);
      auto loss = [&] {
        cpu::activation_backward<double>(leaky, x.in(), dy.in(), dx.view, GradMode::Overwrite);
        return weighted_sum(gather(dx), weights);
      };
      cpu::activation_backward<double>(leaky, x.in(), r.in(), dy_grad.view, GradMode::Overwrite);
      check_finite_differences("dy", dy.storage, view_offsets(dy), dy_grad.storage, loss, fd);
      const std::vector<double> zero(x.storage.size(), 0.0);
      check_finite_differences("x", x.storage, view_offsets(x), zero, loss, fd);
    }
  }

  TEST_CASE("the gradient penalty's parameter gradients (backward of the input gradient) match finite differences (double)") {
    // P = lambda / n * sum_i (||grad_x D(x_i)|| - 1)^2 with the input gradient from backward;
    // each parameter's gradient of P by central differences of P against
    // backward_of_input_gradient's. The interpolates come from the penalty's own mixing.
    const FdOptions fd{8, 1e-6, 1e-5, 1e-9};
    for (float slope : {0.2f, 1.f}) {
      CAPTURE(slope);
      const CriticLayout L(tiny(slope));
      std::vector<double> params = random_parameters(L, 15);
      std::mt19937_64 rng(16);
      HostTensor<double> fake = HostTensor<double>::dense({2, 1, 16, 16, 16}), real = fake, mixed = fake, g = fake, g_grad = fake;
      fill_random(fake, rng);
      fill_random(real, rng);
      cpu::penalty_interpolates<double>(7, 40, fake.in(), real.in(), mixed.view);
      HostTensor<double> scores = HostTensor<double>::dense({2, 1, 1, 1, 1}), ones = scores;
      std::fill(ones.storage.begin(), ones.storage.end(), 1.0);
      Critic<CpuBackend<double>> critic(L, {}, 2, CriticDerivatives::Second);
      const double lambda = 10;
      double penalty = 0;
      auto loss = [&] {
        critic.forward(params.data(), mixed.in(), scores.view);
        critic.backward(params.data(), nullptr, std::nullopt, mixed.in(), ones.in(), &g.view);
        cpu::gradient_penalty<double>(g.in(), lambda, 1.0, &penalty, g_grad.view);
        return penalty;
      };
      loss();
      std::vector<double> grads(params.size(), 0.0);
      critic.backward_of_input_gradient(params.data(), grads.data(), mixed.in(), ones.in(), g_grad.in());
      MESSAGE("penalty " << penalty);
      CHECK(penalty > 1e-3);  // the test has something to differentiate
      check_every_parameter(L.table(), params, grads, loss, fd);
    }
  }

  TEST_CASE("gradient modes: accumulation adds, the input-only pass matches and leaves parameter gradients alone") {
    const CriticLayout L(tiny(0.2f));
    const std::vector<double> params = random_parameters(L, 8);
    std::mt19937_64 rng(9);
    HostTensor<double> x = HostTensor<double>::dense({2, 1, 16, 16, 16}), dx = x, dx_only = x;
    HostTensor<double> scores = HostTensor<double>::dense({2, 1, 1, 1, 1}), dscores = scores;
    fill_random(x, rng);
    fill_random(dscores, rng, 0.2);
    Critic<CpuBackend<double>> critic(L, {}, 2);
    critic.forward(params.data(), x.in(), scores.view);
    std::vector<double> once(params.size(), 0.0), twice(params.size(), 0.0);
    critic.backward(params.data(), once.data(), GradMode::Overwrite, x.in(), dscores.in(), &dx.view);
    critic.backward(params.data(), twice.data(), GradMode::Overwrite, x.in(), dscores.in());
    critic.backward(params.data(), twice.data(), GradMode::Accumulate, x.in(), dscores.in());
    for (double& g : once) g *= 2;
    CHECK(relative_error(twice, once) < 1e-13);

    std::vector<double> untouched(params.size(), 0.5);
    fill_random(dx_only, rng);
    const std::vector<double> before = gather(dx_only);
    critic.backward(params.data(), untouched.data(), std::nullopt, x.in(), dscores.in(), &dx_only.view, GradMode::Accumulate);
    CHECK(std::all_of(untouched.begin(), untouched.end(), [](double g) { return g == 0.5; }));
    std::vector<double> expected = gather(dx);
    for (size_t i = 0; i < expected.size(); ++i) expected[i] += before[i];
    CHECK(relative_error(gather(dx_only), expected) < 1e-13);
  }

  TEST_CASE("a smaller batch than the capacity, and inputs of the wrong size, are handled") {
    const CriticLayout L(tiny(0.2f));
    const std::vector<double> params = random_parameters(L, 10);
    check_forward(L, params, 1, 3, 11);
    Critic<CpuBackend<double>> critic(L, {}, 3);
    HostTensor<double> scores = HostTensor<double>::dense({1, 1, 1, 1, 1});
    HostTensor<double> wrong = HostTensor<double>::dense({1, 1, 8, 16, 16});
    CHECK_THROWS_WITH_AS(critic.forward(params.data(), wrong.in(), scores.view), doctest::Contains("critic: the input must be"), Error);
    HostTensor<double> many = HostTensor<double>::dense({4, 1, 16, 16, 16}), many_scores = HostTensor<double>::dense({4, 1, 1, 1, 1});
    CHECK_THROWS_WITH_AS(critic.forward(params.data(), many.in(), many_scores.view), doctest::Contains("beyond capacity"), Error);
  }

  TEST_CASE("trained alone to tell textured patches from their blur: spectral normalisation and the gradient penalty learn, clipping does not") {
    // The demo's critic (8-16-32-64, hidden 128) on batches of 8 of 16^3, 64 training pairs and 8
    // held out. Clipping (Adam 1e-3, +-0.01) as the paper's configurations; spectral
    // normalisation and the gradient penalty (lambda 10) with Adam 1e-4, betas (0, 0.9), as Miyato
    // et al. and Gulrajani et al. Measured over 300 steps (2026-12-05): clipped, the held-out
    // estimate W = mean D(sharp) - mean D(blurred) stays 0 or +-2.3e-10 (the rounding of its
    // scores) throughout; normalised, W is 1.27 by step 25, 2.1 by 100 and 6.2 by 300 (PyTorch's
    // own spectral_norm critic reached 5.7 by 300 on a like task); penalised, 0.057 by 25, 0.087 by
    // 50, 0.18 by 100 and 0.50 by 300 (PyTorch's, 0.37 by 300). 50 steps here.
    CriticConfig config;
    config.patch = 16;
    config.widths = {8, 16, 32, 64};
    config.hidden = 128;
    const CriticLayout L(config);
    const int edge = 16, batch = 8, steps = 50;
    const int64_t voxels = int64_t(edge) * edge * edge;
    const SharpAndBlurred train = textured_patches(64, edge, 21), held_out = textured_patches(batch, edge, 22);
    const Shape5 shape{batch, 1, edge, edge, edge};
    for (const Lipschitz kind : {Lipschitz::Clip, Lipschitz::Spectral, Lipschitz::GradientPenalty}) {
      CAPTURE(int(kind));
      CriticStep<CpuBackend<float>> step(L, {}, batch, 1.f, CriticConstraint{kind, 0.01f, 1, 10.f}, 23);
      const std::vector<float> initial = initial_critic_parameters(L, 0);
      std::copy(initial.begin(), initial.end(), step.arena().params());
      if (step.spectral()) step.spectral()->set_vectors(initial_spectral_vectors(L, initial, 0));
      const AdamConfig adam = kind == Lipschitz::Clip ? AdamConfig{1e-3f, 0.9f, 0.999f, 1e-8f} : AdamConfig{1e-4f, 0.f, 0.9f, 1e-8f};
      auto estimate = [&] {
        std::vector<float> real(static_cast<size_t>(batch)), fake(static_cast<size_t>(batch));
        Critic<CpuBackend<float>>& critic = step.updated_critic();
        critic.forward(step.arena().params(), Tensor<const float>(held_out.sharp.data(), shape), Tensor<float>(real.data(), {batch, 1, 1, 1, 1}));
        critic.forward(step.arena().params(), Tensor<const float>(held_out.blurred.data(), shape), Tensor<float>(fake.data(), {batch, 1, 1, 1, 1}));
        return (std::accumulate(real.begin(), real.end(), 0.0) - std::accumulate(fake.begin(), fake.end(), 0.0)) / batch;
      };
      for (int t = 1; t <= steps; ++t) {
        const int64_t first = int64_t((t - 1) % 8) * batch * voxels;
        step.gradients(Tensor<const float>(train.blurred.data() + first, shape), Tensor<const float>(train.sharp.data() + first, shape),
                       int64_t(t - 1) * batch);
        step.update(adam, t);
      }
      const double w = estimate();
      MESSAGE("after " << steps << " steps, held-out W " << w);
      if (kind == Lipschitz::Clip) {
        CHECK(std::fabs(w) < 1e-6);
        continue;
      }
      if (kind == Lipschitz::GradientPenalty) {
        // The penalty keeps the input gradients' norms near 1: its last value, 10 x their mean
        // squared distance from 1, measured 0.025.
        const double penalty = step.penalty().download()[0];
        MESSAGE("last gradient penalty " << penalty);
        CHECK(w > 0.04);
        CHECK(penalty < 0.25);
        continue;
      }
      CHECK(w > 0.5);
      // And the critic it learnt is constrained: every normalised weight's largest singular value
      // (200 power iterations from scratch, in double) is 1 within the drift of one iteration a step.
      for (const CriticWeightMatrix& m : L.weight_matrices()) {
        CAPTURE(L.table().entry(m.weight).name);
        const float* normalised = step.spectral()->weights() + L.table().entry(m.weight).offset;
        const std::vector<double> wd(normalised, normalised + m.rows * m.columns);
        std::vector<double> u(static_cast<size_t>(m.rows)), v(static_cast<size_t>(m.columns), 1.0), unit(wd.size());
        double top = 0;
        cpu::spectral_power_iteration<double>(wd.data(), m.rows, m.columns, u.data(), v.data(), 200);
        cpu::spectral_normalise<double>(wd.data(), m.rows, m.columns, u.data(), v.data(), &top, unit.data());
        CHECK(top == doctest::Approx(1.0).epsilon(0.05));
      }
    }
  }

  TEST_CASE("fp32 matches double through the default-width critic") {
    CriticConfig c;
    c.patch = 16;
    const CriticLayout L(c);
    const std::vector<double> params = random_parameters(L, 12);
    std::mt19937_64 rng(13);
    HostTensor<double> x = HostTensor<double>::dense({2, 1, 16, 16, 16}), dx = x;
    HostTensor<double> scores = HostTensor<double>::dense({2, 1, 1, 1, 1}), dscores = scores;
    fill_random(x, rng);
    fill_random(dscores, rng, 0.2);
    Critic<CpuBackend<double>> cd(L, {}, 2);
    Critic<CpuBackend<float>> cf(L, {}, 2);
    const std::vector<float> pf = convert<float>(params);
    HostTensor<float> xf = convert<float>(x), scoresf = convert<float>(scores), dscoresf = convert<float>(dscores), dxf = xf;
    std::vector<double> grads(params.size());
    std::vector<float> gradsf(params.size());
    cd.forward(params.data(), x.in(), scores.view);
    cf.forward(pf.data(), xf.in(), scoresf.view);
    cd.backward(params.data(), grads.data(), GradMode::Overwrite, x.in(), dscores.in(), &dx.view);
    cf.backward(pf.data(), gradsf.data(), GradMode::Overwrite, xf.in(), dscoresf.in(), &dxf.view);
    // Eleven layers, LayerNorms over up to 32k elements: fp32 within 1e-4.
    CHECK(relative_error(gather(scoresf), gather(scores)) < 1e-4);
    CHECK(relative_error(convert<double>(gradsf), grads) < 1e-4);
    CHECK(relative_error(gather(dxf), gather(dx)) < 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
