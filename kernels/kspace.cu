#include <cufft.h>

#include "kernels/cuda_launch.cuh"
#include "kernels/kspace.h"

namespace mdcsrn::gpu {
namespace {

__global__ void to_complex_kernel(const float* real, cufftComplex* out, int64_t count) {
  MDCSRN_GRID_LOOP(v, count) { out[v] = make_cuFloatComplex(real[v], 0.f); }
}

struct AxisBand {
  int64_t n, kept;
  bool truncate;
};

__global__ void truncate_kernel(cufftComplex* data, AxisBand a0, AxisBand a1, AxisBand a2, KspaceWindow window) {
  const int64_t count = a0.n * a1.n * a2.n;
  MDCSRN_GRID_LOOP(v, count) {
    const int64_t i = v % a0.n, j = v / a0.n % a1.n, k = v / (a0.n * a1.n);
    const float w0 = a0.truncate ? kspace_axis_weight(i, a0.n, a0.kept, window) : 1.f;
    const float w1 = a1.truncate ? kspace_axis_weight(j, a1.n, a1.kept, window) : 1.f;
    const float w2 = a2.truncate ? kspace_axis_weight(k, a2.n, a2.kept, window) : 1.f;
    const float w = w0 * w1 * w2;
    data[v].x *= w;
    data[v].y *= w;
  }
}

__global__ void magnitude_kernel(const cufftComplex* data, float* out, float scale, int64_t count) {
  MDCSRN_GRID_LOOP(v, count) { out[v] = cuCabsf(data[v]) * scale; }
}

}  // namespace

void kspace_truncate(CudaContext& ctx, const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t) {
  MDCSRN_REQUIRE(t.scale >= 1, "kspace_truncate: scale must be at least 1");
  const int64_t total = dims[0] * dims[1] * dims[2];
  auto* data = static_cast<cufftComplex*>(ctx.scratch(sizeof(cufftComplex) * size_t(total)));
  const cufftHandle plan = ctx.fft_plan_c2c(int(dims[2]), int(dims[1]), int(dims[0]));
  to_complex_kernel<<<grid_for(total, 4), kThreads, 0, ctx.stream()>>>(hr, data, total);
  MDCSRN_KERNEL_CHECK();
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_FORWARD));
  AxisBand band[3];
  for (int a = 0; a < 3; ++a)
    band[a] = AxisBand{dims[size_t(a)], t.truncate[size_t(a)] ? kept_frequencies(dims[size_t(a)], t.scale) : dims[size_t(a)],
                       t.truncate[size_t(a)]};
  truncate_kernel<<<grid_for(total, 4), kThreads, 0, ctx.stream()>>>(data, band[0], band[1], band[2], t.window);
  MDCSRN_KERNEL_CHECK();
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_INVERSE));
  magnitude_kernel<<<grid_for(total, 4), kThreads, 0, ctx.stream()>>>(data, lr, 1.f / float(total), total);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
