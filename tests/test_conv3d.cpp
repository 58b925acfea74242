#include "engine/cpu_isa.h"
#include "kernels/conv3d.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

struct ConvCase {
  const char* name;
  ConvParams p;
  Shape5 x;
  int64_t out_channels;
  bool bias;
  int64_t x_total_channels;  // > x.c: the input is a channel slice of a wider buffer
  int64_t y_total_channels;  // > out_channels: the output is written into a wider buffer
};

const ConvCase kCases[] = {
    {"k3 s1 p1, sliced in and out", {3, 1, 1}, {2, 3, 5, 4, 6}, 4, false, 7, 9},
    {"k1 s1 p0, sliced in", {1, 1, 0}, {2, 5, 3, 4, 3}, 3, false, 8, 3},
    {"k3 s2 p1 with bias", {3, 2, 1}, {2, 2, 7, 6, 5}, 3, true, 2, 3},
    {"k3 s1 p0 with bias", {3, 1, 0}, {1, 2, 4, 5, 3}, 2, true, 2, 5},
    {"k1 s2 p0", {1, 2, 0}, {2, 3, 5, 5, 4}, 2, false, 3, 2},
    {"k7 s2 p3 (the brain-age stem), sliced in and out", {7, 2, 3}, {2, 2, 9, 8, 11}, 3, false, 3, 4},
    {"k7 s1 p3 with bias", {7, 1, 3}, {1, 1, 5, 6, 7}, 2, true, 1, 2},
    // Rows and channel counts long enough for the blocked kernels' vector tiles and their tails.
    {"k3 s1 p1, wide rows, sliced", {3, 1, 1}, {2, 5, 3, 4, 19}, 6, true, 7, 8},
    {"k1 s1 p0, wide rows, sliced", {1, 1, 0}, {1, 9, 2, 3, 17}, 5, false, 12, 7},
};

// The definition, written independently of the optimised reference loops.
double naive_conv(const ConvCase& c, const HostTensor<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                  int64_t n, int64_t co, int64_t od, int64_t oh, int64_t ow) {
  const int k = c.p.kernel;
  double sum = c.bias ? b[size_t(co)] : 0.0;
  for (int64_t ci = 0; ci < c.x.c; ++ci)
    for (int kd = 0; kd < k; ++kd)
      for (int kh = 0; kh < k; ++kh)
        for (int kw = 0; kw < k; ++kw) {
          const int64_t id = od * c.p.stride - c.p.padding + kd, ih = oh * c.p.stride - c.p.padding + kh,
                        iw = ow * c.p.stride - c.p.padding + kw;
          if (id < 0 || ih < 0 || iw < 0 || id >= c.x.d || ih >= c.x.h || iw >= c.x.w) continue;
          sum += w[size_t((((co * c.x.c + ci) * k + kd) * k + kh) * k + kw)] * x.view.at(n, ci, id, ih, iw);
        }
  return sum;
}

struct ConvData {
  HostTensor<double> x, y, dy;
  std::vector<double> w, b;
};

ConvData make_data(const ConvCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ConvData d;
  const Shape5 ys = conv_output_shape(c.x, c.out_channels, c.p);
  d.x = HostTensor<double>::slice(c.x, c.x_total_channels, c.x_total_channels - c.x.c);
  d.y = HostTensor<double>::slice(ys, c.y_total_channels, 0);
  d.dy = HostTensor<double>::slice(ys, c.y_total_channels, 0);
  fill_random(d.x, rng);
  fill_random(d.y, rng);
  fill_random(d.dy, rng);
  d.w = random_values<double>(conv_weight_count(c.x.c, c.out_channels, c.p), rng);
  d.b = random_values<double>(c.out_channels, rng);
  return d;
}

TEST_SUITE("conv3d") {
  TEST_CASE("forward matches the definition and writes only its channels") {
    for (const ConvCase& c : kCases) {
      CAPTURE(std::string(c.name));
      ConvData d = make_data(c, 1);
      const std::vector<double> before = d.y.storage;
      cpu::conv3d_forward<double>(c.p, d.x.in(), d.w.data(), c.bias ? d.b.data() : nullptr, d.y.view);
      const Shape5& s = d.y.view.shape;
      double worst = 0;
      for (int64_t n = 0; n < s.n; ++n)
        for (int64_t co = 0; co < s.c; ++co)
          for (int64_t od = 0; od < s.d; ++od)
            for (int64_t oh = 0; oh < s.h; ++oh)
              for (int64_t ow = 0; ow < s.w; ++ow)
                worst = std::max(worst, std::fabs(d.y.view.at(n, co, od, oh, ow) - naive_conv(c, d.x, d.w, d.b, n, co, od, oh, ow)));
      CHECK(worst < 1e-12);
      const std::vector<int64_t> inside = view_offsets(d.y);
      std::vector<bool> is_inside(d.y.storage.size());
      for (int64_t i : inside) is_inside[size_t(i)] = true;
      for (size_t i = 0; i < before.size(); ++i)
        if (!is_inside[i]) REQUIRE(d.y.storage[i] == before[i]);
    }
  }

  TEST_CASE("gradients match finite differences (double)") {
    // Tolerance: the loss is linear in each input, so central differences carry no truncation
    // error, only the rounding of a loss of size ~50 divided by the 2e-6 step (~1e-8 here).
    const FdOptions fd{24, 1e-6, 1e-6, 1e-7};
    for (const ConvCase& c : kCases) {
      CAPTURE(std::string(c.name));
      ConvData d = make_data(c, 2);
      const std::vector<double> r = gather(d.dy);
      auto loss = [&] {
        cpu::conv3d_forward<double>(c.p, d.x.in(), d.w.data(), c.bias ? d.b.data() : nullptr, d.y.view);
        return weighted_sum(gather(d.y), r);
      };
      HostTensor<double> dx = d.x;
      std::vector<double> dw(d.w.size()), db(d.b.size());
      cpu::conv3d_backward_data<double>(c.p, d.w.data(), d.dy.in(), dx.view, GradMode::Overwrite);
      cpu::conv3d_backward_weight<double>(c.p, d.x.in(), d.dy.in(), dw.data(), c.bias ? db.data() : nullptr, GradMode::Overwrite);

      check_finite_differences("dx", d.x.storage, view_offsets(d.x), dx.storage, loss, fd);
      std::vector<int64_t> all_w(d.w.size());
      for (size_t i = 0; i < all_w.size(); ++i) all_w[i] = int64_t(i);
      check_finite_differences("dw", d.w, all_w, dw, loss, fd);
      if (c.bias) {
        std::vector<int64_t> all_b(d.b.size());
        for (size_t i = 0; i < all_b.size(); ++i) all_b[i] = int64_t(i);
        check_finite_differences("dbias", d.b, all_b, db, loss, fd);
      }
    }
  }

  TEST_CASE("accumulate mode adds to the existing gradients") {
    const ConvCase& c = kCases[2];
    ConvData d = make_data(c, 3);
    std::mt19937_64 rng(4);
    HostTensor<double> dx_fresh = d.x, dx_acc = d.x;
    fill_random(dx_acc, rng);
    const std::vector<double> dx_initial = dx_acc.storage;
    std::vector<double> dw_fresh(d.w.size()), db_fresh(d.b.size());
    std::vector<double> dw_acc = random_values<double>(int64_t(d.w.size()), rng), db_acc = random_values<double>(int64_t(d.b.size()), rng);
    const std::vector<double> dw_initial = dw_acc, db_initial = db_acc;

    cpu::conv3d_backward_data<double>(c.p, d.w.data(), d.dy.in(), dx_fresh.view, GradMode::Overwrite);
    cpu::conv3d_backward_data<double>(c.p, d.w.data(), d.dy.in(), dx_acc.view, GradMode::Accumulate);
    cpu::conv3d_backward_weight<double>(c.p, d.x.in(), d.dy.in(), dw_fresh.data(), db_fresh.data(), GradMode::Overwrite);
    cpu::conv3d_backward_weight<double>(c.p, d.x.in(), d.dy.in(), dw_acc.data(), db_acc.data(), GradMode::Accumulate);
    for (int64_t i : view_offsets(d.x)) CHECK(dx_acc.storage[size_t(i)] == doctest::Approx(dx_initial[size_t(i)] + dx_fresh.storage[size_t(i)]));
    for (size_t i = 0; i < dw_acc.size(); ++i) CHECK(dw_acc[i] == doctest::Approx(dw_initial[i] + dw_fresh[i]));
    for (size_t i = 0; i < db_acc.size(); ++i) CHECK(db_acc[i] == doctest::Approx(db_initial[i] + db_fresh[i]));
  }

  TEST_CASE("fp32 matches double") {
    // fp32 sums of at most a few hundred products: relative error far below 1e-5.
    for (const ConvCase& c : kCases) {
      CAPTURE(std::string(c.name));
      ConvData d = make_data(c, 5);
      HostTensor<float> xf = convert<float>(d.x), yf = convert<float>(d.y), dyf = convert<float>(d.dy), dxf = xf;
      const std::vector<float> wf = convert<float>(d.w), bf = convert<float>(d.b);
      std::vector<float> dwf(wf.size()), dbf(bf.size());
      HostTensor<double> dx = d.x;
      std::vector<double> dw(d.w.size()), db(d.b.size());
      const double* bias = c.bias ? d.b.data() : nullptr;
      const float* biasf = c.bias ? bf.data() : nullptr;

      cpu::conv3d_forward<double>(c.p, d.x.in(), d.w.data(), bias, d.y.view);
      cpu::conv3d_forward<float>(c.p, xf.in(), wf.data(), biasf, yf.view);
      cpu::conv3d_backward_data<double>(c.p, d.w.data(), d.dy.in(), dx.view, GradMode::Overwrite);
      cpu::conv3d_backward_data<float>(c.p, wf.data(), dyf.in(), dxf.view, GradMode::Overwrite);
      cpu::conv3d_backward_weight<double>(c.p, d.x.in(), d.dy.in(), dw.data(), db.data(), GradMode::Overwrite);
      cpu::conv3d_backward_weight<float>(c.p, xf.in(), dyf.in(), dwf.data(), dbf.data(), GradMode::Overwrite);
      CHECK(relative_error(gather(yf), gather(d.y)) < 1e-5);
      CHECK(relative_error(gather(dxf), gather(dx)) < 1e-5);
      CHECK(relative_error(convert<double>(dwf), dw) < 1e-5);
      CHECK(relative_error(convert<double>(dbf), db) < 1e-5);
    }
  }

  TEST_CASE("fp32 sums over 512 channels stay near the inputs' rounding") {
    // 13,824 products per output, as in the critic's widest layers; rows of 21 voxels take both
    // the vector tiles and the single-voxel tail. One running fp32 sum per output was 1.9e-6 off
    // double here; partial sums per 16 input channels are 3.6e-7 off.
    std::mt19937_64 rng(7);
    const ConvParams p{3, 1, 1};
    HostTensor<double> x = HostTensor<double>::dense({2, 512, 6, 6, 21}), dy = x;
    HostTensor<double> y = HostTensor<double>::dense({2, 4, 6, 6, 21}), dx = y;
    fill_random(x, rng);
    fill_random(dy, rng);
    const std::vector<double> w = random_values<double>(conv_weight_count(512, 4, p), rng);
    const std::vector<double> w_wide_out = random_values<double>(conv_weight_count(4, 512, p), rng);
    cpu::conv3d_forward<double>(p, x.in(), w.data(), nullptr, y.view);
    cpu::conv3d_backward_data<double>(p, w_wide_out.data(), dy.in(), dx.view, GradMode::Overwrite);
    HostTensor<float> xf = convert<float>(x), dyf = convert<float>(dy), yf = convert<float>(y), dxf = convert<float>(dx);
    const std::vector<float> wf = convert<float>(w), w_wide_outf = convert<float>(w_wide_out);
    cpu::conv3d_forward<float>(p, xf.in(), wf.data(), nullptr, yf.view);
    cpu::conv3d_backward_data<float>(p, w_wide_outf.data(), dyf.in(), dxf.view, GradMode::Overwrite);
    CHECK(relative_error(gather(yf), gather(y)) < 7e-7);
    CHECK(relative_error(gather(dxf), gather(dx)) < 7e-7);
  }

  TEST_CASE("the blocked stride-1 kernels match the direct reference") {
    MESSAGE("float kernels for " << cpu_isa_name(cpu_isa()) << " (MDCSRN_MAX_CPU_ISA caps them)");
    // Same sums in another order: fp32 rounding only (relative 1e-6 at these sizes).
    for (const ConvCase& c : kCases) {
      if (c.p.stride != 1) continue;
      CAPTURE(std::string(c.name));
      ConvData d = make_data(c, 6);
      HostTensor<float> x = convert<float>(d.x), y = convert<float>(d.y), dy = convert<float>(d.dy);
      HostTensor<float> y_ref = y, dx = x, dx_ref = x;
      const std::vector<float> w = convert<float>(d.w), b = convert<float>(d.b);
      std::vector<float> dw = convert<float>(d.w), dw_ref = dw;  // non-zero: Accumulate adds to them
      cpu::conv3d_forward<float>(c.p, x.in(), w.data(), c.bias ? b.data() : nullptr, y.view);
      cpu::reference::conv3d_forward<float>(c.p, x.in(), w.data(), c.bias ? b.data() : nullptr, y_ref.view);
      cpu::conv3d_backward_data<float>(c.p, w.data(), dy.in(), dx.view, GradMode::Accumulate);
      cpu::reference::conv3d_backward_data<float>(c.p, w.data(), dy.in(), dx_ref.view, GradMode::Accumulate);
      cpu::conv3d_backward_weight<float>(c.p, x.in(), dy.in(), dw.data(), nullptr, GradMode::Accumulate);
      cpu::reference::conv3d_backward_weight<float>(c.p, x.in(), dy.in(), dw_ref.data(), nullptr, GradMode::Accumulate);
      CHECK(relative_error(convert<double>(y.storage), convert<double>(y_ref.storage)) < 2e-6);
      CHECK(relative_error(convert<double>(dx.storage), convert<double>(dx_ref.storage)) < 2e-6);
      CHECK(relative_error(convert<double>(dw), convert<double>(dw_ref)) < 2e-6);
    }
  }

  TEST_CASE("bad shapes are rejected with a message") {
    HostTensor<float> x = HostTensor<float>::dense({1, 2, 4, 4, 4});
    HostTensor<float> y = HostTensor<float>::dense({1, 3, 3, 4, 4});
    std::vector<float> w(3 * 2 * 27);
    CHECK_THROWS_WITH_AS(cpu::conv3d_forward<float>({3, 1, 1}, x.in(), w.data(), nullptr, y.view),
                         doctest::Contains("output shape [1, 3, 3, 4, 4] should be [1, 3, 4, 4, 4]"), Error);
    CHECK_THROWS_AS(cpu::conv3d_forward<float>({5, 1, 2}, x.in(), w.data(), nullptr, y.view), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
