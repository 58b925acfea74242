#include "models/generator.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// Concatenation along channels by copying, for the reference below.
HostTensor<double> concat(const HostTensor<double>& a, const HostTensor<double>& b) {
  Shape5 s = a.view.shape;
  s.c += b.view.shape.c;
  HostTensor<double> out = HostTensor<double>::dense(s);
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t c = 0; c < a.view.shape.c; ++c) std::copy_n(a.view.plane(n, c), s.spatial(), out.view.plane(n, c));
    for (int64_t c = 0; c < b.view.shape.c; ++c) std::copy_n(b.view.plane(n, c), s.spatial(), out.view.plane(n, a.view.shape.c + c));
  }
  return out;
}

// mDCSRN written plainly from REFERENCE.md section 2: explicit concatenations, dense tensors.
HostTensor<double> reference_forward(const GeneratorLayout& L, const std::vector<double>& params, const HostTensor<double>& x) {
  const GeneratorConfig& c = L.config();
  const ParamTable& t = L.table();
  auto P = [&](const std::string& name) { return params.data() + t.entry(t.find(name)).offset; };
  auto conv = [&](const HostTensor<double>& in, const double* w, int outputs, int kernel) {
    Shape5 s = in.view.shape;
    s.c = outputs;
    HostTensor<double> out = HostTensor<double>::dense(s);
    cpu::conv3d_forward<double>({kernel, 1, kernel / 2}, in.in(), w, nullptr, out.view);
    return out;
  };
  const HostTensor<double> f0 = conv(x, P("conv0.weight"), 2 * c.growth, 3);
  HostTensor<double> F, block_input = f0;
  for (int b = 0; b < c.blocks; ++b) {
    if (b > 0) block_input = conv(F, P("compressors." + std::to_string(b - 1) + ".weight"), 2 * c.growth, 1);
    HostTensor<double> current = block_input;
    for (int u = 0; u < c.units; ++u) {
      const std::string unit = "blocks." + std::to_string(b) + ".units." + std::to_string(u);
      const int64_t channels = current.view.shape.c;
      // BatchNorm with this batch's statistics (biased variance), then the activation.
      HostTensor<double> y = HostTensor<double>::dense(current.view.shape);
      const double count = double(y.view.shape.n * y.view.shape.spatial());
      for (int64_t ch = 0; ch < channels; ++ch) {
        double sum = 0, squares = 0;
        for (int64_t n = 0; n < y.view.shape.n; ++n)
          for (int64_t i = 0; i < y.view.shape.spatial(); ++i) sum += current.view.plane(n, ch)[i];
        const double mean = sum / count;
        for (int64_t n = 0; n < y.view.shape.n; ++n)
          for (int64_t i = 0; i < y.view.shape.spatial(); ++i) squares += std::pow(current.view.plane(n, ch)[i] - mean, 2);
        const double scale = P(unit + ".bn.weight")[ch] / std::sqrt(squares / count + 1e-5);
        for (int64_t n = 0; n < y.view.shape.n; ++n)
          for (int64_t i = 0; i < y.view.shape.spatial(); ++i)
            y.view.plane(n, ch)[i] = activation_forward(c.activation, (current.view.plane(n, ch)[i] - mean) * scale + P(unit + ".bn.bias")[ch]);
      }
      current = concat(current, conv(y, P(unit + ".conv.weight"), c.growth, 3));
    }
    F = b == 0 ? concat(f0, current) : concat(F, current);
  }
  return conv(F, P("reconstruction.weight"), 1, 1);
}

std::vector<double> random_parameters(const GeneratorLayout& L, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> p = convert<double>(initial_generator_parameters(L, seed));
  for (const ParamEntry& e : L.table().entries())
    if (e.shape.size() == 1)  // BatchNorm: perturb away from (1, 0) so the affine matters
      for (int64_t i = 0; i < e.numel; ++i) p[size_t(e.offset + i)] += 0.3 * std::uniform_real_distribution<double>(-1, 1)(rng);
  return p;
}

TEST_SUITE("generator") {
  TEST_CASE("parameter counts and PyTorch names") {
    const GeneratorLayout paper(GeneratorConfig::paper());
    CHECK(paper.table().parameter_count() == 411648);
    CHECK(paper.feature_channels() == 384);
    const ParamTable& t = paper.table();
    CHECK(t.entry(t.find("conv0.weight")).shape == std::vector<int64_t>{32, 1, 3, 3, 3});
    CHECK(t.entry(t.find("blocks.0.units.0.bn.weight")).shape == std::vector<int64_t>{32});
    CHECK(t.entry(t.find("blocks.3.units.3.conv.weight")).shape == std::vector<int64_t>{16, 80, 3, 3, 3});
    CHECK(t.entry(t.find("compressors.0.weight")).shape == std::vector<int64_t>{32, 128, 1, 1, 1});
    CHECK(t.entry(t.find("compressors.2.weight")).shape == std::vector<int64_t>{32, 320, 1, 1, 1});
    CHECK(t.entry(t.find("reconstruction.weight")).shape == std::vector<int64_t>{1, 416, 1, 1, 1});
    CHECK(GeneratorLayout(GeneratorConfig::authors_code()).table().parameter_count() == 581440);
  }

  TEST_CASE("forward matches the plain definition with explicit concatenations") {
    for (const GeneratorConfig& config : {GeneratorConfig{3, 2, 2, {Activation::Elu, 0.f}}, GeneratorConfig{2, 3, 3, {Activation::LeakyRelu, 0.01f}}}) {
      CAPTURE(config.describe());
      const GeneratorLayout L(config);
      const std::vector<double> params = random_parameters(L, 3);
      std::mt19937_64 rng(4);
      HostTensor<double> x = HostTensor<double>::dense({2, 1, 5, 4, 6}), out = x;
      fill_random(x, rng);
      Generator<CpuBackend<double>> g(L, {}, x.view.shape);
      g.forward(params.data(), x.in(), out.view, NormMode::Train);
      CHECK(relative_error(gather(out), gather(reference_forward(L, params, x))) < 1e-12);
    }
  }

  TEST_CASE("gradients of every parameter and of the input match finite differences (double)") {
    // A whole network of smooth ops (ELU) in double: truncation ~ step^2, rounding ~1e-10 on a
    // loss of size ~1; BatchNorm couples every element, so 1e-5 relative + 1e-8 absolute.
    const FdOptions fd{6, 1e-6, 1e-5, 1e-8};
    const GeneratorLayout L(GeneratorConfig{3, 2, 2, {Activation::Elu, 0.f}});
    std::vector<double> params = random_parameters(L, 5);
    std::mt19937_64 rng(6);
    HostTensor<double> x = HostTensor<double>::dense({2, 1, 4, 5, 4}), out = x, dout = x, dx = x;
    fill_random(x, rng);
    fill_random(dout, rng);
    const std::vector<double> r = gather(dout);
    Generator<CpuBackend<double>> g(L, {}, x.view.shape);
    auto loss = [&] {
      g.forward(params.data(), x.in(), out.view, NormMode::Train);
      return weighted_sum(gather(out), r);
    };
    loss();
    std::vector<double> grads(params.size());
    g.backward(params.data(), grads.data(), x.in(), dout.in(), NormMode::Train, &dx.view);
    check_every_parameter(L.table(), params, grads, loss, fd);
    check_finite_differences("input", x.storage, view_offsets(x), dx.storage, loss, fd);
  }

  TEST_CASE("eval mode uses the running statistics that training updated") {
    const GeneratorLayout L(GeneratorConfig{2, 2, 2, {Activation::Elu, 0.f}});
    const std::vector<double> params = random_parameters(L, 8);
    std::mt19937_64 rng(9);
    HostTensor<double> x = HostTensor<double>::dense({3, 1, 4, 4, 4}), out = x, out2 = x;
    fill_random(x, rng);
    Generator<CpuBackend<double>> g(L, {}, x.view.shape);
    g.momentum = 1.0;  // running statistics become the last batch's
    g.forward(params.data(), x.in(), out.view, NormMode::Train);
    const double first_var = g.running_stats()[L.bn_channels()];
    CHECK(first_var != 1.0);
    g.forward(params.data(), x.in(), out2.view, NormMode::Eval);
    // Eval normalises with the unbiased running variance, training with the biased one.
    CHECK(relative_error(gather(out2), gather(out)) < 0.2);
    CHECK(relative_error(gather(out2), gather(out)) > 1e-6);
  }

  TEST_CASE("fp32 matches double through the paper's network") {
    const GeneratorLayout L(GeneratorConfig::paper());
    const std::vector<double> params = random_parameters(L, 10);
    std::mt19937_64 rng(11);
    HostTensor<double> x = HostTensor<double>::dense({2, 1, 8, 8, 8}), out = x, dout = x;
    fill_random(x, rng);
    fill_random(dout, rng);
    Generator<CpuBackend<double>> gd(L, {}, x.view.shape);
    Generator<CpuBackend<float>> gf(L, {}, x.view.shape);
    const std::vector<float> pf = convert<float>(params);
    HostTensor<float> xf = convert<float>(x), outf = xf, doutf = convert<float>(dout);
    std::vector<double> grads(params.size());
    std::vector<float> gradsf(params.size());
    gd.forward(params.data(), x.in(), out.view, NormMode::Train);
    gf.forward(pf.data(), xf.in(), outf.view, NormMode::Train);
    gd.backward(params.data(), grads.data(), x.in(), dout.in(), NormMode::Train);
    gf.backward(pf.data(), gradsf.data(), xf.in(), doutf.in(), NormMode::Train);
    // 18 layers deep, BatchNorm over 1024 voxels per channel: fp32 stays within 1e-4.
    CHECK(relative_error(gather(outf), gather(out)) < 1e-4);
    CHECK(relative_error(convert<double>(gradsf), grads) < 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
