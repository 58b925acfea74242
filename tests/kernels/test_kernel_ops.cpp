// The GPU backend's kernels against the CPU reference run in double on the same fp32 inputs, on
// the target of tests/kernels/target.h (the SIMT emulator or the device). Each op runs on a shape
// whose planes take 16-byte accesses and on one whose planes do not, with channel slices of wider
// buffers, accumulation, outputs poisoned with NaN beforehand, and a check that nothing outside a
// view is written.
#include "io/patch_dataset.h"
#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/channel_fold.h"
#include "kernels/kspace_spectrum.h"
#include "kernels/gradient_penalty.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "kernels/patch_sampler.h"
#include "kernels/step_schedule.h"
#include "kernels/pooling.h"
#include "kernels/random.h"
#include "kernels/spectral_norm.h"
#include "kernels/window_pooling.h"
#include "tests/io_support.h"
#include "tests/kernels/target.h"
#include "tests/sampler_support.h"

namespace mdcsrn::test {
namespace {

// Elementwise fp32 math differs from the double reference by rounding only (~1e-7); reductions
// over ~10^5 elements in fp32 tree order stay under ~1e-6. Bounds: 1e-5 unless noted.
constexpr double kFp32Tolerance = 1e-5;

// A shape whose planes are 16-byte vectors (the generator's), and one whose planes are not.
const Shape5 kVectorShape{4, 12, 8, 8, 16};
const Shape5 kOddShape{3, 5, 3, 5, 7};
// More (sample, channel) planes than a grid's y can count (65,535): a WGAN critic's hidden layer.
const Shape5 kManyPlanesShape{64, 1025, 1, 1, 1};

std::vector<double> as_double(const Buffer<float>& b) { return convert<double>(b.download()); }

TEST_SUITE(MDCSRN_TARGET_SUITE("activation")) {
  TEST_CASE("ELU, LeakyReLU and ReLU forward and backward match the reference") {
    for (const Shape5& s : {kVectorShape, kOddShape, kManyPlanesShape})
      for (const ActivationSpec a : {ActivationSpec{Activation::Elu, 0.f}, ActivationSpec{Activation::LeakyRelu, 0.2f},
                                     ActivationSpec{Activation::Relu, 0.f}}) {
        CAPTURE(s.str());
        CAPTURE(int(a.kind));
        std::mt19937_64 rng(71);
        HostTensor<float> x = HostTensor<float>::slice(s, s.c + 20, 16), y = HostTensor<float>::dense(s), dy = y, dx = x;
        fill_random(x, rng, 0.0, 3.0);
        fill_random(dy, rng);
        fill_random(dx, rng);
        poison(y);
        HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
        cpu::activation_forward<double>(a, xr.in(), yr.view);
        cpu::activation_backward<double>(a, xr.in(), dyr.in(), dxr.view, GradMode::Accumulate);

        TargetContext ctx;
        TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
        gpu::activation_forward(ctx, a, xd.in(), yd.view);
        gpu::activation_backward(ctx, a, xd.in(), dyd.in(), dxd.view, GradMode::Accumulate);
        ctx.synchronize();
        const HostTensor<float> dx_out = dxd.download(dx);
        CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
        CHECK(relative_error(gather(dx_out), gather(dxr)) < kFp32Tolerance);
        check_outside_view_unchanged(dx, dx_out);
      }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("batchnorm")) {
  TEST_CASE("statistics, running averages and the fused BatchNorm + activation match the reference") {
    for (const Shape5& s : {kVectorShape, kOddShape})
      for (NormMode mode : {NormMode::Train, NormMode::Eval}) {
        CAPTURE(s.str());
        CAPTURE(int(mode));
        const ActivationSpec act{Activation::Elu, 0.f};
        std::mt19937_64 rng(72);
        HostTensor<float> x = HostTensor<float>::slice(s, s.c + 40, 32), y = HostTensor<float>::dense(s), dy = y, dx = x;
        fill_random(x, rng, 0.0, 2.0);
        for (float& v : x.storage) v += 0.3f;
        fill_random(dy, rng);
        fill_random(dx, rng);
        poison(y);
        const size_t c = size_t(s.c);
        const std::vector<float> gamma = random_values<float>(s.c, rng, 0.2), beta = random_values<float>(s.c, rng);
        std::vector<float> rm = random_values<float>(s.c, rng), rv = random_values<float>(s.c, rng, 0.5);
        for (float& v : rv) v = std::fabs(v);
        const int64_t count = s.n * s.spatial();

        HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
        std::vector<double> gr = convert<double>(gamma), br = convert<double>(beta), rmr = convert<double>(rm), rvr = convert<double>(rv);
        std::vector<double> mean(c), var(c), invstd(c), dg(c, 0.5), db(c, -0.5);
        if (mode == NormMode::Train) {
          cpu::batchnorm_statistics<double>(xr.in(), 1e-5, mean.data(), var.data(), invstd.data());
          cpu::batchnorm_update_running<double>(mean.data(), var.data(), count, 0.1, rmr.data(), rvr.data(), s.c);
        } else {
          cpu::batchnorm_running_statistics<double>(rmr.data(), rvr.data(), 1e-5, mean.data(), invstd.data(), s.c);
        }
        const BatchNormAffine<double> bn{gr.data(), br.data(), mean.data(), invstd.data()};
        cpu::batchnorm_activation_forward<double>(xr.in(), bn, act, yr.view);
        cpu::batchnorm_activation_backward<double>(mode, xr.in(), dyr.in(), bn, act, dxr.view, dg.data(), db.data(), GradMode::Accumulate);

        TargetContext ctx;
        TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
        Buffer<float> gd = target_copy(gamma), bd = target_copy(beta), rmd = target_copy(rm), rvd = target_copy(rv);
        Buffer<float> meand = poisoned(s.c), vard = poisoned(s.c), invstdd = poisoned(s.c);
        Buffer<float> dgd = target_copy(std::vector<float>(c, 0.5f)), dbd = target_copy(std::vector<float>(c, -0.5f));
        if (mode == NormMode::Train) {
          gpu::batchnorm_statistics(ctx, xd.in(), 1e-5f, meand.data(), vard.data(), invstdd.data());
          gpu::batchnorm_update_running(ctx, meand.data(), vard.data(), count, 0.1f, rmd.data(), rvd.data(), s.c);
        } else {
          gpu::batchnorm_running_statistics(ctx, rmd.data(), rvd.data(), 1e-5f, meand.data(), invstdd.data(), s.c);
        }
        const BatchNormAffine<float> bnd{gd.data(), bd.data(), meand.data(), invstdd.data()};
        gpu::batchnorm_activation_forward(ctx, xd.in(), bnd, act, yd.view);
        gpu::batchnorm_activation_backward(ctx, mode, xd.in(), dyd.in(), bnd, act, dxd.view, dgd.data(), dbd.data(),
                                           GradMode::Accumulate);
        ctx.synchronize();
        const HostTensor<float> dx_out = dxd.download(dx);
        CHECK(relative_error(as_double(meand), mean) < kFp32Tolerance);
        CHECK(relative_error(as_double(invstdd), invstd) < kFp32Tolerance);
        if (mode == NormMode::Train) CHECK(relative_error(as_double(vard), var) < kFp32Tolerance);
        CHECK(relative_error(as_double(rmd), rmr) < kFp32Tolerance);
        CHECK(relative_error(as_double(rvd), rvr) < kFp32Tolerance);
        CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
        CHECK(relative_error(gather(dx_out), gather(dxr)) < kFp32Tolerance);
        CHECK(relative_error(as_double(dgd), dg) < kFp32Tolerance);
        CHECK(relative_error(as_double(dbd), db) < kFp32Tolerance);
        check_outside_view_unchanged(dx, dx_out);
      }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("layernorm")) {
  TEST_CASE("LayerNorm over (C, D, H, W), its backward and double backward match the reference") {
    for (const Shape5& s : {Shape5{4, 64, 8, 8, 8}, kOddShape}) {
      CAPTURE(s.str());
      std::mt19937_64 rng(73);
      HostTensor<float> x = HostTensor<float>::dense(s), y = x, dy = x, dx = x;
      fill_random(x, rng, 0.0, 2.0);
      fill_random(dy, rng);
      poison(y);
      poison(dx);
      const int64_t per = s.c * s.spatial();
      const std::vector<float> w = random_values<float>(per, rng, 0.2), b = random_values<float>(per, rng);

      HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
      const std::vector<double> wr = convert<double>(w), br = convert<double>(b);
      std::vector<double> mean(static_cast<size_t>(s.n)), invstd(mean), dw(wr.size()), db(br.size());
      cpu::layernorm_forward<double>(xr.in(), wr.data(), br.data(), 1e-5, mean.data(), invstd.data(), yr.view);
      cpu::layernorm_backward<double>(xr.in(), dyr.in(), wr.data(), mean.data(), invstd.data(), dxr.view, dw.data(), db.data(),
                                      GradMode::Overwrite);

      TargetContext ctx;
      TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
      Buffer<float> wd = target_copy(w), bd = target_copy(b), dwd = poisoned(per), dbd = poisoned(per);
      Buffer<float> meand = poisoned(s.n), invstdd = poisoned(s.n);
      gpu::layernorm_forward(ctx, xd.in(), wd.data(), bd.data(), 1e-5f, meand.data(), invstdd.data(), yd.view);
      gpu::layernorm_backward(ctx, xd.in(), dyd.in(), wd.data(), meand.data(), invstdd.data(), dxd.view, dwd.data(), dbd.data(),
                              GradMode::Overwrite);
      ctx.synchronize();
      CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dxd.download(dx)), gather(dxr)) < kFp32Tolerance);
      CHECK(relative_error(as_double(dwd), dw) < kFp32Tolerance);
      CHECK(relative_error(as_double(dbd), db) < kFp32Tolerance);

      // The double backward (the gradient penalty's), on the statistics just computed.
      HostTensor<float> ddx = HostTensor<float>::dense(s), x_grad = ddx, dy_grad = ddx;
      fill_random(ddx, rng);
      poison(x_grad);
      poison(dy_grad);
      HostTensor<double> ddxr = convert<double>(ddx), x_gradr = convert<double>(x_grad), dy_gradr = x_gradr;
      std::vector<double> weight_grad(wr.size(), 0.5);
      cpu::layernorm_double_backward<double>(xr.in(), dyr.in(), wr.data(), mean.data(), invstd.data(), ddxr.in(), x_gradr.view,
                                             dy_gradr.view, weight_grad.data(), GradMode::Accumulate);
      TargetTensor ddxd(ddx), x_gradd(x_grad), dy_gradd(dy_grad);
      Buffer<float> weight_gradd = target_copy(std::vector<float>(size_t(per), 0.5f));
      gpu::layernorm_double_backward(ctx, xd.in(), dyd.in(), wd.data(), meand.data(), invstdd.data(), ddxd.in(), x_gradd.view, dy_gradd.view,
                                     weight_gradd.data(), GradMode::Accumulate);
      ctx.synchronize();
      CHECK(relative_error(gather(x_gradd.download(x_grad)), gather(x_gradr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dy_gradd.download(dy_grad)), gather(dy_gradr)) < kFp32Tolerance);
      CHECK(relative_error(as_double(weight_gradd), weight_grad) < kFp32Tolerance);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("pooling")) {
  TEST_CASE("global average pooling matches the reference") {
    for (const Shape5& s : {Shape5{4, 512, 2, 2, 2}, kOddShape}) {
      CAPTURE(s.str());
      std::mt19937_64 rng(74);
      HostTensor<float> x = HostTensor<float>::dense(s), y = HostTensor<float>::dense(pooled_shape(s)), dy = y, dx = x;
      fill_random(x, rng);
      fill_random(dy, rng);
      fill_random(dx, rng);
      poison(y);
      HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
      cpu::global_avg_pool_forward<double>(xr.in(), yr.view);
      cpu::global_avg_pool_backward<double>(dyr.in(), dxr.view, GradMode::Accumulate);
      TargetContext ctx;
      TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
      gpu::global_avg_pool_forward(ctx, xd.in(), yd.view);
      gpu::global_avg_pool_backward(ctx, dyd.in(), dxd.view, GradMode::Accumulate);
      ctx.synchronize();
      CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dxd.download(dx)), gather(dxr)) < kFp32Tolerance);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("window_pooling")) {
  TEST_CASE("max pooling (3^3, stride 2, padding 1) and average pooling (2^3, stride 2) match the reference") {
    for (const Shape5& s : {Shape5{2, 6, 16, 16, 16}, kOddShape})
      for (const bool max : {true, false}) {
        CAPTURE(s.str());
        CAPTURE(max);
        const PoolWindow w = max ? PoolWindow{3, 2, 1} : PoolWindow{2, 2, 0};
        const Shape5 ys = pool_output_shape(s, w);
        std::mt19937_64 rng(75);
        // The output is a channel slice of a wider buffer, as in a dense block's features.
        HostTensor<float> x = HostTensor<float>::dense(s), y = HostTensor<float>::slice(ys, ys.c + 5, 3), dy = HostTensor<float>::dense(ys), dx = x;
        fill_random(x, rng);
        fill_random(y, rng);
        fill_random(dy, rng);
        fill_random(dx, rng);
        poison(y);
        HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
        std::vector<int32_t> winners(size_t(ys.numel()));
        TargetContext ctx;
        TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
        Buffer<int32_t> winners_d = target_copy(std::vector<int32_t>(winners.size(), -1));
        if (max) {
          cpu::max_pool_forward<double>(w, xr.in(), yr.view, winners.data());
          cpu::max_pool_backward<double>(w, winners.data(), dyr.in(), dxr.view, GradMode::Accumulate);
          gpu::max_pool_forward(ctx, w, xd.in(), yd.view, winners_d.data());
          gpu::max_pool_backward(ctx, w, winners_d.data(), dyd.in(), dxd.view, GradMode::Accumulate);
        } else {
          cpu::avg_pool_forward<double>(w, xr.in(), yr.view);
          cpu::avg_pool_backward<double>(w, dyr.in(), dxr.view, GradMode::Accumulate);
          gpu::avg_pool_forward(ctx, w, xd.in(), yd.view);
          gpu::avg_pool_backward(ctx, w, dyd.in(), dxd.view, GradMode::Accumulate);
        }
        ctx.synchronize();
        const HostTensor<float> y_out = yd.download(y);
        CHECK(relative_error(gather(y_out), gather(yr)) < kFp32Tolerance);
        CHECK(relative_error(gather(dxd.download(dx)), gather(dxr)) < kFp32Tolerance);
        check_outside_view_unchanged(y, y_out);
        if (max) CHECK(winners_d.download() == winners);
      }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("linear")) {
  TEST_CASE("the linear head's forward, input and weight gradients match the reference") {
    for (const int64_t outputs : {int64_t(1), int64_t(3)}) {
      CAPTURE(outputs);
      const int64_t batch = 5, inputs = 1024;
      std::mt19937_64 rng(76);
      HostTensor<float> x = HostTensor<float>::slice({batch, inputs, 1, 1, 1}, inputs + 4, 2), y = HostTensor<float>::dense({batch, outputs, 1, 1, 1});
      HostTensor<float> dy = y, dx = x;
      fill_random(x, rng);
      fill_random(dy, rng);
      fill_random(dx, rng);
      poison(y);
      const std::vector<float> w = random_values<float>(outputs * inputs, rng), b = random_values<float>(outputs, rng);
      std::vector<float> dw = random_values<float>(outputs * inputs, rng), db = random_values<float>(outputs, rng);
      HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
      const std::vector<double> wr = convert<double>(w), br = convert<double>(b);
      std::vector<double> dwr = convert<double>(dw), dbr = convert<double>(db);
      cpu::linear_forward<double>(xr.in(), wr.data(), br.data(), yr.view);
      cpu::linear_backward_data<double>(wr.data(), dyr.in(), dxr.view, GradMode::Accumulate);
      cpu::linear_backward_weight<double>(xr.in(), dyr.in(), dwr.data(), dbr.data(), GradMode::Accumulate);

      TargetContext ctx;
      TargetTensor xd(x), yd(y), dyd(dy), dxd(dx);
      Buffer<float> wd = target_copy(w), bd = target_copy(b), dwd = target_copy(dw), dbd = target_copy(db);
      gpu::linear_forward(ctx, xd.in(), wd.data(), bd.data(), yd.view);
      gpu::linear_backward_data(ctx, wd.data(), dyd.in(), dxd.view, GradMode::Accumulate);
      gpu::linear_backward_weight(ctx, xd.in(), dyd.in(), dwd.data(), dbd.data(), GradMode::Accumulate);
      ctx.synchronize();
      const HostTensor<float> dx_out = dxd.download(dx);
      CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dx_out), gather(dxr)) < kFp32Tolerance);
      CHECK(relative_error(as_double(dwd), dwr) < kFp32Tolerance);
      CHECK(relative_error(as_double(dbd), dbr) < kFp32Tolerance);
      check_outside_view_unchanged(dx, dx_out);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("loss")) {
  TEST_CASE("L1, L2 and mean critic score match the reference") {
    for (const Shape5& s : {Shape5{16, 1, 32, 32, 32}, kOddShape, kManyPlanesShape}) {
      CAPTURE(s.str());
      std::mt19937_64 rng(75);
      HostTensor<float> pred = HostTensor<float>::dense(s), target = pred, dpred = pred;
      fill_random(pred, rng);
      fill_random(target, rng);
      poison(dpred);
      const HostTensor<double> pr = convert<double>(pred), tr = convert<double>(target);
      TargetContext ctx;
      TargetTensor pd(pred), td(target), dpd(dpred);
      Buffer<float> result = poisoned(1);
      for (LossKind kind : {LossKind::L1, LossKind::L2}) {
        if (s.n * s.c > 65535 && kind != LossKind::L1) continue;  // the grid's test needs one kind; the emulator takes ~10 s a kind
        CAPTURE(int(kind));
        HostTensor<double> dr = convert<double>(dpred);
        const double ref = cpu::loss_forward<double>(kind, pr.in(), tr.in());
        cpu::loss_backward<double>(kind, pr.in(), tr.in(), 0.5, dr.view, GradMode::Overwrite);
        gpu::loss_forward(ctx, kind, pd.in(), td.in(), result.data());
        gpu::loss_backward(ctx, kind, pd.in(), td.in(), 0.5f, dpd.view, GradMode::Overwrite);
        ctx.synchronize();
        CHECK(std::fabs(result.download()[0] - ref) < 1e-6 * ref);  // summed in double on both sides
        CHECK(relative_error(gather(dpd.download(dpred)), gather(dr)) < 1e-6);
      }
    }
    std::mt19937_64 rng(76);
    for (int64_t count : {int64_t(64), int64_t(1000)}) {
      const std::vector<float> scores = random_values<float>(count, rng);
      TargetContext ctx;
      Buffer<float> sd = target_copy(scores), dsd = poisoned(count), result = poisoned(1);
      gpu::mean_score(ctx, sd.data(), count, result.data());
      gpu::mean_score_backward(ctx, count, -1.f, dsd.data(), GradMode::Overwrite);
      ctx.synchronize();
      CHECK(result.download()[0] == doctest::Approx(cpu::mean_score(scores.data(), count)).epsilon(1e-6));
      for (float g : dsd.download()) CHECK(g == -1.f / float(count));
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("kspace_spectrum")) {
  // The first axis spans two blocks of a line; the other two differ in length, so that swapped
  // line coordinates show.
  TEST_CASE("the truncation's elementwise passes match the CPU's weights and magnitudes") {
    const std::array<int64_t, 3> dims{300, 6, 5};
    const int64_t count = dims[0] * dims[1] * dims[2];
    std::mt19937_64 rng(79);
    const std::vector<float> real = random_values<float>(count, rng), spectrum = random_values<float>(2 * count, rng);
    TargetContext ctx;
    Buffer<float> real_d = target_copy(real), complex_d = poisoned(2 * count), magnitude_d = poisoned(count);
    gpu::real_to_complex(ctx, real_d.data(), complex_d.data(), count);
    ctx.synchronize();
    std::vector<float> complex(static_cast<size_t>(2 * count), 0.f);
    for (int64_t v = 0; v < count; ++v) complex[size_t(2 * v)] = real[size_t(v)];
    CHECK(complex_d.download() == complex);

    std::vector<double> magnitude(static_cast<size_t>(count));
    for (int64_t v = 0; v < count; ++v) magnitude[size_t(v)] = 0.5 * std::hypot(double(spectrum[size_t(2 * v)]), double(spectrum[size_t(2 * v + 1)]));
    Buffer<float> spectrum_d = target_copy(spectrum);
    gpu::complex_magnitude(ctx, spectrum_d.data(), 0.5f, magnitude_d.data(), count);
    ctx.synchronize();
    CHECK(relative_error(as_double(magnitude_d), magnitude) < 1e-6);

    for (const KspaceTruncation& t : {KspaceTruncation{4, {false, true, true}, KspaceWindow::None},
                                      KspaceTruncation{2, {true, true, true}, KspaceWindow::Hamming},
                                      KspaceTruncation{3, {true, false, true}, KspaceWindow::Tukey}}) {
      CAPTURE(t.scale);
      CAPTURE(std::string(kspace_window_name(t.window)));
      std::vector<double> want(spectrum.begin(), spectrum.end());
      for (int64_t k = 0; k < dims[2]; ++k)
        for (int64_t j = 0; j < dims[1]; ++j)
          for (int64_t i = 0; i < dims[0]; ++i) {
            double w = 1.0;
            const int64_t index[3] = {i, j, k};
            for (size_t a = 0; a < 3; ++a)
              if (t.truncate[a]) w *= kspace_axis_weight(index[a], dims[a], kept_frequencies(dims[a], t.scale), t.window);
            const int64_t v = (k * dims[1] + j) * dims[0] + i;
            want[size_t(2 * v)] *= w;
            want[size_t(2 * v + 1)] *= w;
          }
      Buffer<float> weighted_d = target_copy(spectrum);
      gpu::weight_kspace_band(ctx, weighted_d.data(), dims, t);
      ctx.synchronize();
      CHECK(relative_error(as_double(weighted_d), want) < 1e-6);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("optimizer")) {
  TEST_CASE("Adam and clipping agree with the CPU over several steps") {
    std::mt19937_64 rng(77);
    for (int64_t count : {int64_t(411648), int64_t(1001)}) {
      CAPTURE(count);
      std::vector<float> p = random_values<float>(count, rng, 0.0, 0.1), m(static_cast<size_t>(count)), v(m);
      TargetContext ctx;
      Buffer<float> pd = target_copy(p), md = target_copy(m), vd = target_copy(v), gd(kTargetMemory, count);
      const AdamConfig config;
      for (int t = 1; t <= 3; ++t) {
        const std::vector<float> g = random_values<float>(count, rng, 0.0, 0.01);
        gd.upload(g);
        cpu::adam(adam_step(config, t), p.data(), g.data(), m.data(), v.data(), count);
        gpu::adam(ctx, adam_step(config, t), pd.data(), gd.data(), md.data(), vd.data(), count);
        ctx.synchronize();  // the next upload must not overtake this step
      }
      // Same formula on both sides; nvcc may fuse multiply-adds, so allow a few ulps.
      CHECK(relative_error(as_double(pd), convert<double>(p)) < 1e-6);
      CHECK(relative_error(as_double(vd), convert<double>(v)) < 1e-6);

      cpu::clip(p.data(), count, 0.01f);
      gpu::clip(ctx, pd.data(), count, 0.01f);
      ctx.synchronize();
      const std::vector<float> clipped = pd.download();
      for (float x : clipped) REQUIRE(std::fabs(x) <= 0.01f);
      CHECK(relative_error(convert<double>(clipped), convert<double>(p)) < 1e-6);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("gradient_penalty")) {
  TEST_CASE("interpolates, the penalty and its gradient match the CPU") {
    for (const Shape5& s : {Shape5{4, 1, 16, 16, 16}, Shape5{3, 1, 5, 7, 9}}) {
      CAPTURE(s.str());
      std::mt19937_64 rng(79);
      HostTensor<float> fake = HostTensor<float>::dense(s), real = fake, mixed = fake, g = fake, g_grad = fake;
      fill_random(fake, rng);
      fill_random(real, rng);
      fill_random(g, rng, 0.0, 0.05);
      poison(mixed);
      poison(g_grad);
      HostTensor<float> mixed_cpu = mixed;
      cpu::penalty_interpolates<float>(5, 61, fake.in(), real.in(), mixed_cpu.view);
      HostTensor<double> gr = convert<double>(g), g_gradr = gr;
      double penalty = 0;
      cpu::gradient_penalty<double>(gr.in(), 10.0, 0.5, &penalty, g_gradr.view);

      TargetContext ctx;
      TargetTensor faked(fake), reald(real), mixedd(mixed), gd(g), g_gradd(g_grad);
      Buffer<float> penaltyd = poisoned(1);
      gpu::penalty_interpolates(ctx, 5, 61, faked.in(), reald.in(), mixedd.view);
      gpu::gradient_penalty(ctx, gd.in(), 10.f, 0.5f, penaltyd.data(), g_gradd.view);
      ctx.synchronize();
      CHECK(relative_error(gather(mixedd.download(mixed)), gather(mixed_cpu)) < 1e-6);  // the same formula; nvcc may fuse
      CHECK(relative_error(as_double(penaltyd), std::vector<double>{penalty}) < kFp32Tolerance);
      CHECK(relative_error(gather(g_gradd.download(g_grad)), gather(g_gradr)) < kFp32Tolerance);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("spectral_norm")) {
  TEST_CASE("power iteration, sigma and the normalised weight, and its backward match the CPU in double") {
    std::mt19937_64 rng(78);
    // A stride-2 critic convolution's matrix (16 outputs x 8 inputs x 27 taps), and a thin one.
    for (auto [rows, columns] : {std::pair<int64_t, int64_t>{16, 216}, std::pair<int64_t, int64_t>{3, 1001}}) {
      CAPTURE(rows);
      const std::vector<float> w = random_values<float>(rows * columns, rng, 0.0, 0.2), g = random_values<float>(rows * columns, rng);
      std::vector<float> v0 = random_values<float>(columns, rng);
      std::vector<double> wd = convert<double>(w), ud(static_cast<size_t>(rows)), vd = convert<double>(v0);
      cpu::spectral_power_iteration<double>(wd.data(), rows, columns, ud.data(), vd.data(), 2);
      std::vector<double> normalised_d(wd.size()), grad_d = convert<double>(g);
      double sigma_d = 0;
      cpu::spectral_normalise<double>(wd.data(), rows, columns, ud.data(), vd.data(), &sigma_d, normalised_d.data());
      cpu::spectral_normalise_backward<double>(normalised_d.data(), rows, columns, ud.data(), vd.data(), &sigma_d, grad_d.data());

      TargetContext ctx;
      Buffer<float> wt = target_copy(w), ut = poisoned(rows), vt = target_copy(v0), sigma = poisoned(1), normalised = poisoned(rows * columns);
      Buffer<float> grad = target_copy(g);
      gpu::spectral_power_iteration(ctx, wt.data(), rows, columns, ut.data(), vt.data(), 2);
      gpu::spectral_normalise(ctx, wt.data(), rows, columns, ut.data(), vt.data(), sigma.data(), normalised.data());
      gpu::spectral_normalise_backward(ctx, normalised.data(), rows, columns, ut.data(), vt.data(), sigma.data(), grad.data());
      ctx.synchronize();
      CHECK(relative_error(as_double(ut), ud) < kFp32Tolerance);
      CHECK(relative_error(as_double(vt), vd) < kFp32Tolerance);
      CHECK(relative_error(as_double(sigma), {sigma_d}) < kFp32Tolerance);
      CHECK(relative_error(as_double(normalised), normalised_d) < kFp32Tolerance);
      CHECK(relative_error(as_double(grad), grad_d) < kFp32Tolerance);
    }
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("philox")) {
  TEST_CASE("the kernels draw the very same words and uniforms as the CPU") {
    const int64_t count = (1 << 18) + 3;  // not a multiple of 4: the tail is handled alike
    std::vector<uint32_t> words(static_cast<size_t>(count));
    std::vector<float> uniforms(static_cast<size_t>(count));
    cpu::philox_words(0x1234abcdull << 20, 5, words.data(), count);
    cpu::philox_uniform<float>(99, 2, -0.25f, 0.75f, uniforms.data(), count);
    TargetContext ctx;
    Buffer<uint32_t> wd(kTargetMemory, count);
    Buffer<float> ud = poisoned(count);
    gpu::philox_words(ctx, 0x1234abcdull << 20, 5, wd.data(), count);
    gpu::philox_uniform(ctx, 99, 2, -0.25f, 0.75f, ud.data(), count);
    ctx.synchronize();
    CHECK(wd.download() == words);
    CHECK(ud.download() == uniforms);
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("channel_fold")) {
  TEST_CASE("folding weights over repeated channels and unfolding their gradients match the CPU") {
    std::mt19937_64 rng(78);
    const int64_t outputs = 3, concat = 40, distinct = 28;
    std::vector<int32_t> map(static_cast<size_t>(concat));
    for (int64_t c = 0; c < concat; ++c) map[size_t(c)] = int32_t(c < distinct ? c : (c * 7) % distinct);
    const std::vector<float> w = random_values<float>(outputs * concat, rng), dfolded = random_values<float>(outputs * distinct, rng);
    std::vector<float> folded(static_cast<size_t>(outputs * distinct)), dw = random_values<float>(outputs * concat, rng);
    TargetContext ctx;
    Buffer<float> wd = target_copy(w), foldedd = poisoned(outputs * distinct), dfd = target_copy(dfolded), dwd = target_copy(dw);
    Buffer<int32_t> mapd = target_copy(map);
    cpu::fold_weights(w.data(), map.data(), outputs, concat, distinct, folded.data());
    cpu::unfold_grads(dfolded.data(), map.data(), outputs, concat, distinct, dw.data(), GradMode::Accumulate);
    gpu::fold_weights(ctx, wd.data(), mapd.data(), outputs, concat, distinct, foldedd.data());
    gpu::unfold_grads(ctx, dfd.data(), mapd.data(), outputs, concat, distinct, dwd.data(), GradMode::Accumulate);
    ctx.synchronize();
    CHECK(foldedd.download() == folded);  // the same sums in the same order
    CHECK(dwd.download() == dw);
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("step_schedule")) {
  TEST_CASE("the device-held step schedule gives each step its patches and Adam's constants") {
    const AdamConfig adam{2e-4f, 0.5f, 0.999f, 1e-8f};
    TargetContext ctx;
    Buffer<StepSchedule> s(kTargetMemory, 1);
    gpu::set_step_schedule(ctx, s.data(), 41, 8, adam);
    for (int64_t step = 41; step < 44; ++step) {
      CAPTURE(step);
      gpu::begin_step(ctx, s.data());
      ctx.synchronize();
      const StepSchedule got = s.download()[0];
      CHECK(got.step == step);
      CHECK(got.first_patch == step * 8);
      CHECK(got.next_first_patch == (step + 1) * 8);
      // The host's formula, in double on both sides; the device's pow may differ in the last bit.
      const AdamStep expected = adam_step(adam, step + 1);
      CHECK(got.adam_step.beta1 == expected.beta1);
      CHECK(got.adam_step.beta2 == expected.beta2);
      CHECK(got.adam_step.eps == expected.eps);
      CHECK(std::fabs(got.adam_step.step_size - expected.step_size) <= 1e-6f * expected.step_size);
      CHECK(std::fabs(got.adam_step.bias_correction2_sqrt - expected.bias_correction2_sqrt) <= 1e-6f * expected.bias_correction2_sqrt);
      gpu::end_step(ctx, s.data());
    }
    ctx.synchronize();
    CHECK(s.download()[0].step == 44);
  }
}

TEST_SUITE(MDCSRN_TARGET_SUITE("sampler")) {
  TEST_CASE("the sampler kernel draws the very same patches as the CPU from the same seed") {
    for (SamplingMode mode : {SamplingMode::Uniform, SamplingMode::Balanced, SamplingMode::Weighted})
      for (int patch : {16, 12}) {
        CAPTURE(std::string(sampling_mode_name(mode)));
        CAPTURE(patch);
        SamplerConfig c;
        c.mode = mode;
        c.patch = patch;
        c.seed = 23;
        std::vector<SamplerSubject> subjects = {phantom_subject(1, 64, 56, 48), phantom_subject(2, 48, 48, 40)};
        const PatchDataset host(subjects, c, MemoryKind::Host), target(subjects, c, kTargetMemory);
        const int batch = 32;
        const int64_t voxels = int64_t(batch) * patch * patch * patch;
        std::vector<float> lr(static_cast<size_t>(voxels)), hr(lr);
        std::vector<int32_t> centres(static_cast<size_t>(batch * kCentreFields));
        cpu::gather_patches(host.view(), 5000, batch, lr.data(), hr.data(), centres.data());
        TargetContext ctx;
        Buffer<float> lr_d = poisoned(voxels), hr_d = poisoned(voxels);
        Buffer<int32_t> centres_d(kTargetMemory, batch * kCentreFields);
        gpu::gather_patches(ctx, target.view(), 5000, batch, lr_d.data(), hr_d.data(), centres_d.data());
        ctx.synchronize();
        CHECK(centres_d.download() == centres);
        CHECK(lr_d.download() == lr);
        CHECK(hr_d.download() == hr);
        // The same with the patch number in device memory, as a step graph samples.
        Buffer<int64_t> first = target_copy(std::vector<int64_t>{5000});
        Buffer<float> lr_at = poisoned(voxels), hr_at = poisoned(voxels);
        gpu::gather_patches_at(ctx, target.view(), first.data(), batch, lr_at.data(), hr_at.data(), centres_d.data());
        ctx.synchronize();
        CHECK(lr_at.download() == lr);
        CHECK(hr_at.download() == hr);
      }
  }
}

}  // namespace
}  // namespace mdcsrn::test
