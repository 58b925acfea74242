#include "engine/cuda_context.h"
#include "kernels/kspace.h"
#include "tests/gpu/gpu_support.h"
#include "tests/sampler_support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("gpu_kspace") {
  // Both transforms are single precision; their difference is rounding (~1e-7 relative).
  TEST_CASE("cuFFT truncation matches FFTW to 1e-5 relative") {
    for (const std::array<int64_t, 3> dims : {std::array<int64_t, 3>{64, 48, 40}, std::array<int64_t, 3>{45, 37, 31}}) {
      for (KspaceWindow w : {KspaceWindow::None, KspaceWindow::Hamming}) {
        CAPTURE(dims[0]);
        CAPTURE(std::string(kspace_window_name(w)));
        std::mt19937_64 rng(101);
        const int64_t n = dims[0] * dims[1] * dims[2];
        std::vector<float> hr = random_values<float>(n, rng);
        for (float& x : hr) x = std::fabs(x);
        const KspaceTruncation t{4, {false, true, true}, w};
        std::vector<float> lr_cpu(hr.size());
        cpu::kspace_truncate(hr.data(), lr_cpu.data(), dims, t);
        CudaContext ctx;
        Buffer<float> hr_d = device_copy(hr), lr_d(MemoryKind::Device, n);
        gpu::kspace_truncate(ctx, hr_d.data(), lr_d.data(), dims, t);
        ctx.synchronize();
        const double e = relative_error(convert<double>(lr_d.download()), convert<double>(lr_cpu));
        MESSAGE("cuFFT vs FFTW relative error " << e);
        CHECK(e < 1e-5);
      }
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
