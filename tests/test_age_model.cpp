#include "models/age_regressor.h"
#include "tests/network_support.h"

namespace mdcsrn::test {
namespace {

using Host = HostTensor<double>;

Host concat(const Host& a, const Host& b) {
  Shape5 s = a.view.shape;
  s.c += b.view.shape.c;
  Host out = Host::dense(s);
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t c = 0; c < a.view.shape.c; ++c) std::copy_n(a.view.plane(n, c), s.spatial(), out.view.plane(n, c));
    for (int64_t c = 0; c < b.view.shape.c; ++c) std::copy_n(b.view.plane(n, c), s.spatial(), out.view.plane(n, a.view.shape.c + c));
  }
  return out;
}

// MONAI's DenseNet written plainly: explicit concatenations, dense tensors, BatchNorm with this
// batch's statistics (biased variance) computed where it is used, ReLU by max.
Host reference_forward(const AgeRegressorLayout& L, const std::vector<double>& params, const Host& x) {
  const ParamTable& t = L.table();
  auto P = [&](const std::string& name) { return params.data() + t.entry(t.find(name)).offset; };
  auto conv = [&](const Host& in, const std::string& weight, const ConvParams& p) {
    const Host out = Host::dense(conv_output_shape(in.view.shape, t.entry(t.find(weight)).shape[0], p));
    cpu::conv3d_forward<double>(p, in.in(), P(weight), nullptr, out.view);
    return out;
  };
  auto bn_relu = [&](const Host& in, const std::string& norm) {
    Host y = Host::dense(in.view.shape);
    const double count = double(y.view.shape.n * y.view.shape.spatial());
    for (int64_t ch = 0; ch < y.view.shape.c; ++ch) {
      double sum = 0, squares = 0;
      for (int64_t n = 0; n < y.view.shape.n; ++n)
        for (int64_t i = 0; i < y.view.shape.spatial(); ++i) sum += in.view.plane(n, ch)[i];
      const double mean = sum / count;
      for (int64_t n = 0; n < y.view.shape.n; ++n)
        for (int64_t i = 0; i < y.view.shape.spatial(); ++i) squares += std::pow(in.view.plane(n, ch)[i] - mean, 2);
      const double scale = P(norm + ".weight")[ch] / std::sqrt(squares / count + 1e-5);
      for (int64_t n = 0; n < y.view.shape.n; ++n)
        for (int64_t i = 0; i < y.view.shape.spatial(); ++i)
          y.view.plane(n, ch)[i] = std::max(0.0, (in.view.plane(n, ch)[i] - mean) * scale + P(norm + ".bias")[ch]);
    }
    return y;
  };
  auto pool = [&](const Host& in, const PoolWindow& w, bool max) {
    Host out = Host::dense(pool_output_shape(in.view.shape, w));
    std::vector<int32_t> winners(size_t(out.view.numel()));
    if (max)
      cpu::max_pool_forward<double>(w, in.in(), out.view, winners.data());
    else
      cpu::avg_pool_forward<double>(w, in.in(), out.view);
    return out;
  };
  Host h = pool(bn_relu(conv(x, "features.conv0.weight", {7, 2, 3}), "features.norm0"), {3, 2, 1}, true);
  const auto& blocks = L.config().blocks;
  for (size_t b = 0; b < blocks.size(); ++b) {
    for (int u = 0; u < blocks[b]; ++u) {
      const std::string unit = "features.denseblock" + std::to_string(b + 1) + ".denselayer" + std::to_string(u + 1) + ".layers";
      const Host bottleneck = conv(bn_relu(h, unit + ".norm1"), unit + ".conv1.weight", {1, 1, 0});
      h = concat(h, conv(bn_relu(bottleneck, unit + ".norm2"), unit + ".conv2.weight", {3, 1, 1}));
    }
    if (b + 1 == blocks.size()) break;
    const std::string transition = "features.transition" + std::to_string(b + 1);
    h = pool(conv(bn_relu(h, transition + ".norm"), transition + ".conv.weight", {1, 1, 0}), {2, 2, 0}, false);
  }
  const Host a = bn_relu(h, "features.norm5");
  Host out = Host::dense({x.view.shape.n, 1, 1, 1, 1});
  for (int64_t n = 0; n < x.view.shape.n; ++n) {
    double y = P("class_layers.out.bias")[0];
    for (int64_t c = 0; c < a.view.shape.c; ++c) {
      double mean = 0;
      for (int64_t i = 0; i < a.view.shape.spatial(); ++i) mean += a.view.plane(n, c)[i] / double(a.view.shape.spatial());
      y += P("class_layers.out.weight")[c] * mean;
    }
    out.view.at(n, 0, 0, 0, 0) = y;
  }
  return out;
}

// Two blocks of two units; a 14^3 input shrinks to 7^3 (stem), 4^3 (block 1) and 2^3 (block 2).
const AgeRegressorConfig kTiny{4, 3, 2, {2, 2}};

std::vector<double> tiny_parameters(const AgeRegressorLayout& L, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return convert<double>(perturbed_age_parameters(L, seed, rng));
}

TEST_SUITE("age_model") {
  TEST_CASE("DenseNet121's parameter count, MONAI's names and shapes; the CPU configuration") {
    const AgeRegressorLayout L(AgeRegressorConfig::densenet121());
    const ParamTable& t = L.table();
    CHECK(t.parameter_count() == 11243649);
    auto shape = [&](const std::string& name) {
      REQUIRE_MESSAGE(t.find(name) >= 0, name);
      return t.entry(t.find(name)).shape;
    };
    CHECK(shape("features.conv0.weight") == std::vector<int64_t>{64, 1, 7, 7, 7});
    CHECK(shape("features.denseblock1.denselayer1.layers.norm1.weight") == std::vector<int64_t>{64});
    CHECK(shape("features.denseblock1.denselayer6.layers.conv1.weight") == std::vector<int64_t>{128, 224, 1, 1, 1});
    CHECK(shape("features.denseblock1.denselayer6.layers.conv2.weight") == std::vector<int64_t>{32, 128, 3, 3, 3});
    CHECK(shape("features.transition1.conv.weight") == std::vector<int64_t>{128, 256, 1, 1, 1});
    CHECK(shape("features.transition3.conv.weight") == std::vector<int64_t>{512, 1024, 1, 1, 1});
    CHECK(shape("features.denseblock4.denselayer16.layers.norm1.weight") == std::vector<int64_t>{992});
    CHECK(shape("features.norm5.bias") == std::vector<int64_t>{1024});
    CHECK(shape("class_layers.out.weight") == std::vector<int64_t>{1, 1024});
    CHECK(shape("class_layers.out.bias") == std::vector<int64_t>{1});
    CHECK(L.norms().size() == 1 + 2 * (6 + 12 + 24 + 16) + 3 + 1);
    CHECK(AgeRegressorLayout(AgeRegressorConfig::small()).table().parameter_count() == 52705);
  }

  TEST_CASE("forward matches the plain definition with explicit concatenations") {
    const AgeRegressorLayout L(kTiny);
    const std::vector<double> params = tiny_parameters(L, 3);
    for (const Shape5& s : {Shape5{3, 1, 14, 14, 14}, Shape5{2, 1, 13, 16, 11}}) {
      CAPTURE(s.str());
      std::mt19937_64 rng(4);
      Host x = Host::dense(s), out = Host::dense({s.n, 1, 1, 1, 1});
      fill_random(x, rng);
      AgeRegressor<CpuBackend<double>> model(L, {}, s);
      model.forward(params.data(), x.in(), out.view, NormMode::Train);
      CHECK(relative_error(gather(out), gather(reference_forward(L, params, x))) < 1e-12);
    }
  }

  TEST_CASE("gradients of every parameter match finite differences (double)") {
    // ReLU and max pooling are linear between kinks and ties; with fixed seeds no checked
    // perturbation of 1e-6 crosses one, so what remains is BatchNorm's curvature (~step^2) and
    // rounding: 1e-5 relative + 1e-8 absolute, as for the generator.
    const FdOptions fd{6, 1e-6, 1e-5, 1e-8};
    const AgeRegressorLayout L(kTiny);
    std::vector<double> params = tiny_parameters(L, 5);
    std::mt19937_64 rng(6);
    Host x = Host::dense({3, 1, 14, 14, 14}), out = Host::dense({3, 1, 1, 1, 1}), dout = out;
    fill_random(x, rng);
    fill_random(dout, rng, 0.2);
    const std::vector<double> r = gather(dout);
    AgeRegressor<CpuBackend<double>> model(L, {}, x.view.shape);
    for (const NormMode mode : {NormMode::Train, NormMode::Eval}) {
      CAPTURE(int(mode));
      auto loss = [&] {
        model.forward(params.data(), x.in(), out.view, mode);
        return weighted_sum(gather(out), r);
      };
      loss();
      std::vector<double> grads(params.size(), NAN);
      model.backward(params.data(), grads.data(), x.in(), dout.in(), mode);
      check_every_parameter(L.table(), params, grads, loss, fd);
    }
  }

  TEST_CASE("running statistics: eval uses what training left; a smaller batch than the capacity") {
    const AgeRegressorLayout L(kTiny);
    const std::vector<double> params = tiny_parameters(L, 8);
    std::mt19937_64 rng(9);
    Host x = Host::dense({3, 1, 14, 14, 14}), train = Host::dense({3, 1, 1, 1, 1}), eval = train;
    fill_random(x, rng);
    AgeRegressor<CpuBackend<double>> model(L, {}, Shape5{4, 1, 14, 14, 14});
    model.momentum = 1.0;  // the running statistics become this batch's
    model.forward(params.data(), x.in(), train.view, NormMode::Train);
    CHECK(relative_error(gather(train), gather(reference_forward(L, params, x))) < 1e-12);
    const double* running = model.running_stats();
    const NormLayer& head = L.norm5();
    CHECK(running[L.norm_channels() + head.stats_offset] != 1.0);
    model.forward(params.data(), x.in(), eval.view, NormMode::Eval);
    // Eval normalises with the unbiased running variance, training with the biased one.
    CHECK(relative_error(gather(eval), gather(train)) < 0.3);
    CHECK(relative_error(gather(eval), gather(train)) > 1e-6);

    Host big = Host::dense({5, 1, 14, 14, 14}), big_out = Host::dense({5, 1, 1, 1, 1});
    CHECK_THROWS_WITH_AS(model.forward(params.data(), big.in(), big_out.view, NormMode::Train), doctest::Contains("the input must be [n <= 4"),
                         Error);
    CHECK_THROWS_WITH_AS(AgeRegressor<CpuBackend<double>>(AgeRegressorLayout(AgeRegressorConfig::small()), {}, Shape5{1, 1, 8, 8, 8}),
                         doctest::Contains("grid.size: 8x8x8 voxels are too few for 3 dense blocks"), Error);
  }

  TEST_CASE("fp32 matches double through the CPU configuration") {
    const AgeRegressorLayout L(AgeRegressorConfig::small());
    const AgeCase c = age_case(L, {2, 1, 32, 36, 32}, 11, 12);
    const AgeFloatRun run = run_age_case_in_float(L, c);
    std::string worst_name;
    const double worst = worst_age_gradient_error(L, run.grads, c.grads, worst_name);
    MESSAGE("worst parameter gradient " << worst << " (" << worst_name << ")");
    CHECK(relative_error(gather(run.out), gather(c.out)) < 1e-5);
    CHECK(relative_error(gather(run.eval), gather(c.eval)) < 1e-5);
    CHECK(worst < 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
