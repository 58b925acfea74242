#include <cufft.h>

#include "kernels/flat_grid.h"
#include "kernels/simt/launch.h"
#include "kernels/kspace.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void to_complex_kernel(const float* real, cufftComplex* out, int64_t count) {
  for (int64_t v = flat_thread(); v < count; v += flat_stride()) out[v] = make_cuFloatComplex(real[v], 0.f);
}

struct AxisBand {
  int64_t n, kept;
  bool truncate;
};

// Block (x, j, k) scales line (j, k) along the first axis.
MDCSRN_KERNEL void truncate_kernel(cufftComplex* data, AxisBand a0, AxisBand a1, AxisBand a2, KspaceWindow window) {
  const int64_t j = simt::block_idx().y, k = simt::block_idx().z;
  const float w1 = a1.truncate ? kspace_axis_weight(j, a1.n, a1.kept, window) : 1.f;
  const float w2 = a2.truncate ? kspace_axis_weight(k, a2.n, a2.kept, window) : 1.f;
  cufftComplex* line = data + (k * a1.n + j) * a0.n;
  for (int64_t i = flat_thread(); i < a0.n; i += flat_stride()) {
    const float w = (a0.truncate ? kspace_axis_weight(i, a0.n, a0.kept, window) : 1.f) * w1 * w2;
    line[i].x *= w;
    line[i].y *= w;
  }
}

MDCSRN_KERNEL void magnitude_kernel(const cufftComplex* data, float* out, float scale, int64_t count) {
  for (int64_t v = flat_thread(); v < count; v += flat_stride()) out[v] = cuCabsf(data[v]) * scale;
}

}  // namespace

void kspace_truncate(CudaContext& ctx, const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t) {
  MDCSRN_REQUIRE(t.scale >= 1, "kspace_truncate: scale must be at least 1");
  const int64_t total = dims[0] * dims[1] * dims[2];
  auto* data = static_cast<cufftComplex*>(ctx.scratch(sizeof(cufftComplex) * size_t(total)));
  const cufftHandle plan = ctx.fft_plan_c2c(int(dims[2]), int(dims[1]), int(dims[0]));
  simt::launch(ctx, flat_launch(total, 4), to_complex_kernel, hr, data, total);
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_FORWARD));
  AxisBand band[3];
  for (int a = 0; a < 3; ++a)
    band[a] = AxisBand{dims[size_t(a)], t.truncate[size_t(a)] ? kept_frequencies(dims[size_t(a)], t.scale) : dims[size_t(a)],
                       t.truncate[size_t(a)]};
  MDCSRN_REQUIRE(dims[1] <= 65535 && dims[2] <= 65535, "kspace_truncate: volume too large for the line grid");
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned((dims[0] + kThreads - 1) / kThreads), unsigned(dims[1]), unsigned(dims[2])),
                                       simt::Dim3(kThreads)),
               truncate_kernel, data, band[0], band[1], band[2], t.window);
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_INVERSE));
  simt::launch(ctx, flat_launch(total, 4), magnitude_kernel, data, lr, 1.f / float(total), total);
}

}  // namespace mdcsrn::gpu
