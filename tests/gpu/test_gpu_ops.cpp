#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/layernorm.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "kernels/pooling.h"
#include "kernels/random.h"
#include "tests/gpu/gpu_support.h"

namespace mdcsrn::test {
namespace {

// Elementwise fp32 math differs from the double reference by rounding only (~1e-7); reductions
// over ~10^5 elements in fp32 tree order stay under ~1e-6. Bounds: 1e-5 unless noted.
constexpr double kFp32Tolerance = 1e-5;

TEST_SUITE("gpu_activation") {
  TEST_CASE("ELU and LeakyReLU forward and backward match the reference") {
    for (const ActivationSpec a : {ActivationSpec{Activation::Elu, 0.f}, ActivationSpec{Activation::LeakyRelu, 0.2f}}) {
      std::mt19937_64 rng(71);
      const Shape5 s{4, 16, 16, 16, 16};
      HostTensor<float> x = HostTensor<float>::slice(s, 48, 16), y = HostTensor<float>::dense(s), dy = y, dx = x;
      fill_random(x, rng, 0.0, 3.0);
      fill_random(dy, rng);
      fill_random(dx, rng);
      HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
      cpu::activation_forward<double>(a, xr.in(), yr.view);
      cpu::activation_backward<double>(a, xr.in(), dyr.in(), dxr.view, GradMode::Accumulate);

      CudaContext ctx;
      DeviceTensor xd(x), yd(y), dyd(dy), dxd(dx);
      gpu::activation_forward(ctx, a, xd.in(), yd.view);
      gpu::activation_backward(ctx, a, xd.in(), dyd.in(), dxd.view, GradMode::Accumulate);
      ctx.synchronize();
      const HostTensor<float> dx_gpu = dxd.download(dx);
      CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dx_gpu), gather(dxr)) < kFp32Tolerance);
      check_outside_view_unchanged(dx, dx_gpu);
    }
  }
}

TEST_SUITE("gpu_batchnorm") {
  TEST_CASE("training and eval BatchNorm3d match the reference, running statistics included") {
    for (NormMode mode : {NormMode::Train, NormMode::Eval}) {
      CAPTURE(int(mode));
      std::mt19937_64 rng(72);
      const Shape5 s{8, 48, 16, 16, 16};
      HostTensor<float> x = HostTensor<float>::slice(s, 96, 32), y = HostTensor<float>::dense(s), dy = y, dx = x;
      fill_random(x, rng, 0.0, 2.0);
      for (float& v : x.storage) v += 0.3f;
      fill_random(dy, rng);
      fill_random(dx, rng);
      const std::vector<float> gamma = random_values<float>(s.c, rng, 0.2), beta = random_values<float>(s.c, rng);
      std::vector<float> rm = random_values<float>(s.c, rng), rv = random_values<float>(s.c, rng, 0.5);
      for (float& v : rv) v = std::fabs(v);

      HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
      std::vector<double> gr = convert<double>(gamma), br = convert<double>(beta), rmr = convert<double>(rm), rvr = convert<double>(rv);
      std::vector<double> mean(static_cast<size_t>(s.c)), invstd(mean), dg(mean), db(mean);
      cpu::batchnorm_forward<double>(mode, xr.in(), {gr.data(), br.data(), rmr.data(), rvr.data(), 0.1, 1e-5}, mean.data(),
                                     invstd.data(), yr.view);
      cpu::batchnorm_backward<double>(mode, xr.in(), dyr.in(), gr.data(), mean.data(), invstd.data(), dxr.view, dg.data(),
                                      db.data(), GradMode::Accumulate);

      CudaContext ctx;
      DeviceTensor xd(x), yd(y), dyd(dy), dxd(dx);
      Buffer<float> gd = device_copy(gamma), bd = device_copy(beta), rmd = device_copy(rm), rvd = device_copy(rv);
      Buffer<float> meand(MemoryKind::Device, s.c), invstdd(MemoryKind::Device, s.c), dgd(MemoryKind::Device, s.c),
          dbd(MemoryKind::Device, s.c);
      dgd.zero();
      dbd.zero();
      gpu::batchnorm_forward(ctx, mode, xd.in(), {gd.data(), bd.data(), rmd.data(), rvd.data(), 0.1f, 1e-5f}, meand.data(),
                             invstdd.data(), yd.view);
      gpu::batchnorm_backward(ctx, mode, xd.in(), dyd.in(), gd.data(), meand.data(), invstdd.data(), dxd.view, dgd.data(),
                              dbd.data(), GradMode::Accumulate);
      ctx.synchronize();
      const HostTensor<float> dx_gpu = dxd.download(dx);
      CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
      CHECK(relative_error(gather(dx_gpu), gather(dxr)) < kFp32Tolerance);
      CHECK(relative_error(convert<double>(dgd.download()), dg) < kFp32Tolerance);
      CHECK(relative_error(convert<double>(dbd.download()), db) < kFp32Tolerance);
      CHECK(relative_error(convert<double>(rmd.download()), rmr) < kFp32Tolerance);
      CHECK(relative_error(convert<double>(rvd.download()), rvr) < kFp32Tolerance);
      CHECK(relative_error(convert<double>(invstdd.download()), invstd) < kFp32Tolerance);
      check_outside_view_unchanged(dx, dx_gpu);
    }
  }
}

TEST_SUITE("gpu_layernorm") {
  TEST_CASE("LayerNorm over (C, D, H, W) matches the reference") {
    std::mt19937_64 rng(73);
    const Shape5 s{4, 64, 8, 8, 8};
    HostTensor<float> x = HostTensor<float>::dense(s), y = x, dy = x, dx = x;
    fill_random(x, rng, 0.0, 2.0);
    fill_random(dy, rng);
    const int64_t per = s.c * s.spatial();
    const std::vector<float> w = random_values<float>(per, rng, 0.2), b = random_values<float>(per, rng);

    HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
    const std::vector<double> wr = convert<double>(w), br = convert<double>(b);
    std::vector<double> mean(static_cast<size_t>(s.n)), invstd(mean), dw(wr.size()), db(br.size());
    cpu::layernorm_forward<double>(xr.in(), wr.data(), br.data(), 1e-5, mean.data(), invstd.data(), yr.view);
    cpu::layernorm_backward<double>(xr.in(), dyr.in(), wr.data(), mean.data(), invstd.data(), dxr.view, dw.data(), db.data(),
                                    GradMode::Overwrite);

    CudaContext ctx;
    DeviceTensor xd(x), yd(y), dyd(dy), dxd(dx);
    Buffer<float> wd = device_copy(w), bd = device_copy(b), dwd(MemoryKind::Device, per), dbd(MemoryKind::Device, per);
    Buffer<float> meand(MemoryKind::Device, s.n), invstdd(MemoryKind::Device, s.n);
    gpu::layernorm_forward(ctx, xd.in(), wd.data(), bd.data(), 1e-5f, meand.data(), invstdd.data(), yd.view);
    gpu::layernorm_backward(ctx, xd.in(), dyd.in(), wd.data(), meand.data(), invstdd.data(), dxd.view, dwd.data(), dbd.data(),
                            GradMode::Overwrite);
    ctx.synchronize();
    CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
    CHECK(relative_error(gather(dxd.download(dx)), gather(dxr)) < kFp32Tolerance);
    CHECK(relative_error(convert<double>(dwd.download()), dw) < kFp32Tolerance);
    CHECK(relative_error(convert<double>(dbd.download()), db) < kFp32Tolerance);
  }
}

TEST_SUITE("gpu_pooling") {
  TEST_CASE("global average pooling matches the reference") {
    std::mt19937_64 rng(74);
    const Shape5 s{4, 512, 2, 2, 2};
    HostTensor<float> x = HostTensor<float>::dense(s), y = HostTensor<float>::dense(pooled_shape(s)), dy = y, dx = x;
    fill_random(x, rng);
    fill_random(dy, rng);
    fill_random(dx, rng);
    HostTensor<double> xr = convert<double>(x), yr = convert<double>(y), dyr = convert<double>(dy), dxr = convert<double>(dx);
    cpu::global_avg_pool_forward<double>(xr.in(), yr.view);
    cpu::global_avg_pool_backward<double>(dyr.in(), dxr.view, GradMode::Accumulate);
    CudaContext ctx;
    DeviceTensor xd(x), yd(y), dyd(dy), dxd(dx);
    gpu::global_avg_pool_forward(ctx, xd.in(), yd.view);
    gpu::global_avg_pool_backward(ctx, dyd.in(), dxd.view, GradMode::Accumulate);
    ctx.synchronize();
    CHECK(relative_error(gather(yd.download(y)), gather(yr)) < kFp32Tolerance);
    CHECK(relative_error(gather(dxd.download(dx)), gather(dxr)) < kFp32Tolerance);
  }
}

TEST_SUITE("gpu_loss") {
  TEST_CASE("L1, L2 and mean critic score match the reference") {
    std::mt19937_64 rng(75);
    const Shape5 s{16, 1, 32, 32, 32};
    HostTensor<float> pred = HostTensor<float>::dense(s), target = pred, dpred = pred;
    fill_random(pred, rng);
    fill_random(target, rng);
    const HostTensor<double> pr = convert<double>(pred), tr = convert<double>(target);
    CudaContext ctx;
    DeviceTensor pd(pred), td(target), dpd(dpred);
    Buffer<float> result(MemoryKind::Device, 1);
    for (LossKind kind : {LossKind::L1, LossKind::L2}) {
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
    const std::vector<float> scores = random_values<float>(64, rng);
    Buffer<float> sd = device_copy(scores), dsd(MemoryKind::Device, 64);
    gpu::mean_score(ctx, sd.data(), 64, result.data());
    gpu::mean_score_backward(ctx, 64, -1.f, dsd.data(), GradMode::Overwrite);
    ctx.synchronize();
    CHECK(result.download()[0] == doctest::Approx(cpu::mean_score(scores.data(), 64)).epsilon(1e-6));
    for (float g : dsd.download()) CHECK(g == -1.f / 64);
  }
}

TEST_SUITE("gpu_optimizer") {
  TEST_CASE("Adam and clipping agree with the CPU over several steps") {
    std::mt19937_64 rng(76);
    const int64_t count = 411648;
    std::vector<float> p = random_values<float>(count, rng, 0.0, 0.1), m(static_cast<size_t>(count)), v(m);
    CudaContext ctx;
    Buffer<float> pd = device_copy(p), md = device_copy(m), vd = device_copy(v), gd(MemoryKind::Device, count);
    const AdamConfig config;
    for (int t = 1; t <= 3; ++t) {
      const std::vector<float> g = random_values<float>(count, rng, 0.0, 0.01);
      gd.upload(g);
      cpu::adam(adam_step(config, t), p.data(), g.data(), m.data(), v.data(), count);
      gpu::adam(ctx, adam_step(config, t), pd.data(), gd.data(), md.data(), vd.data(), count);
    }
    ctx.synchronize();
    // Same formula on both sides; nvcc may fuse multiply-adds, so allow a few ulps.
    CHECK(relative_error(convert<double>(pd.download()), convert<double>(p)) < 1e-6);
    CHECK(relative_error(convert<double>(vd.download()), convert<double>(v)) < 1e-6);

    cpu::clip(p.data(), count, 0.01f);
    gpu::clip(ctx, pd.data(), count, 0.01f);
    ctx.synchronize();
    const std::vector<float> clipped = pd.download();
    for (float x : clipped) REQUIRE(std::fabs(x) <= 0.01f);
    CHECK(relative_error(convert<double>(clipped), convert<double>(p)) < 1e-6);
  }
}

TEST_SUITE("gpu_philox") {
  TEST_CASE("the GPU draws the very same words and uniforms as the CPU") {
    const int64_t count = (1 << 20) + 3;  // not a multiple of 4: the tail is handled alike
    std::vector<uint32_t> words(static_cast<size_t>(count));
    std::vector<float> uniforms(static_cast<size_t>(count));
    cpu::philox_words(0x1234abcdull << 20, 5, words.data(), count);
    cpu::philox_uniform<float>(99, 2, -0.25f, 0.75f, uniforms.data(), count);
    CudaContext ctx;
    Buffer<uint32_t> wd(MemoryKind::Device, count);
    Buffer<float> ud(MemoryKind::Device, count);
    gpu::philox_words(ctx, 0x1234abcdull << 20, 5, wd.data(), count);
    gpu::philox_uniform(ctx, 99, 2, -0.25f, 0.75f, ud.data(), count);
    ctx.synchronize();
    CHECK(wd.download() == words);
    CHECK(ud.download() == uniforms);
  }
}

}  // namespace
}  // namespace mdcsrn::test
