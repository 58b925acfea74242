#include <cufft.h>

#include <complex>

#include "engine/arena.h"
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "engine/workspace.h"
#include "tests/gpu/gpu_support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("gpu_engine") {
  TEST_CASE("device buffers, arena and workspace") {
    Buffer<float> b(MemoryKind::Device, 1000);
    std::vector<float> values(1000);
    for (size_t i = 0; i < values.size(); ++i) values[i] = float(i) * 0.5f - 7.f;
    b.upload(values);
    CHECK(b.download() == values);

    ParamTable table;
    table.add("conv0.weight", {32, 1, 3, 3, 3});
    table.add("conv0.bias", {32});
    Arena arena(table, MemoryKind::Device);
    std::vector<float> all(static_cast<size_t>(4 * arena.size()), 1.f);
    raw_copy(MemoryKind::Host, all.data(), MemoryKind::Device, arena.params(), all.size() * sizeof(float));
    for (float v : all) REQUIRE(v == 0.f);

    Workspace ws(MemoryKind::Device, 1 << 20);
    CHECK(reinterpret_cast<uintptr_t>(ws.take<float>(3)) % Workspace::kAlignment == 0);
    CHECK(reinterpret_cast<uintptr_t>(ws.take<float>(3)) % Workspace::kAlignment == 0);
  }

  TEST_CASE("errors become one-line messages naming the call") {
    CHECK_THROWS_WITH_AS(Buffer<float>(MemoryKind::Device, int64_t(1) << 42), doctest::Contains("out of GPU memory"), Error);
    cudnnTensorDescriptor_t d;
    MDCSRN_CUDA_CHECK(cudnnCreateTensorDescriptor(&d));
    const int dims[5] = {1, -1, 1, 1, 1}, strides[5] = {1, 1, 1, 1, 1};
    CHECK_THROWS_WITH_AS(MDCSRN_CUDA_CHECK(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, 5, dims, strides)),
                         doctest::Contains("cuDNN error CUDNN_STATUS_BAD_PARAM"), Error);
    cudnnDestroyTensorDescriptor(d);
  }

  TEST_CASE("the context's cached cuFFT plan transforms forward and back") {
    CudaContext ctx;
    const int d = 12, h = 10, w = 8, n = d * h * w;
    std::mt19937_64 rng(81);
    const std::vector<float> re = random_values<float>(n, rng), im = random_values<float>(n, rng);
    std::vector<std::complex<float>> host(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) host[size_t(i)] = {re[size_t(i)], im[size_t(i)]};
    Buffer<std::complex<float>> data(MemoryKind::Device, n);
    data.upload(host);
    const cufftHandle plan = ctx.fft_plan_c2c(d, h, w);
    CHECK(ctx.fft_plan_c2c(d, h, w) == plan);  // cached
    auto* p = reinterpret_cast<cufftComplex*>(data.data());
    MDCSRN_CUDA_CHECK(cufftExecC2C(plan, p, p, CUFFT_FORWARD));
    ctx.synchronize();
    // The DC term is the sum of all values.
    std::complex<double> sum = 0;
    for (const auto& z : host) sum += std::complex<double>(z);
    const std::complex<float> dc = data.download()[0];
    CHECK(std::abs(std::complex<double>(dc) - sum) < 1e-4 * std::abs(sum) + 1e-3);
    MDCSRN_CUDA_CHECK(cufftExecC2C(plan, p, p, CUFFT_INVERSE));
    ctx.synchronize();
    const std::vector<std::complex<float>> back = data.download();
    double worst = 0;
    for (int i = 0; i < n; ++i) worst = std::max(worst, double(std::abs(back[size_t(i)] / float(n) - host[size_t(i)])));
    CHECK(worst < 1e-5);
  }
}

}  // namespace
}  // namespace mdcsrn::test
