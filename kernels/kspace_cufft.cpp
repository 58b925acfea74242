#include <cufft.h>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "kernels/kspace.h"
#include "kernels/kspace_spectrum.h"

namespace mdcsrn::gpu {

void kspace_truncate(CudaContext& ctx, const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t) {
  MDCSRN_REQUIRE(t.scale >= 1, "kspace_truncate: scale must be at least 1");
  const int64_t total = dims[0] * dims[1] * dims[2];
  auto* data = static_cast<cufftComplex*>(ctx.scratch(sizeof(cufftComplex) * size_t(total)));
  const cufftHandle plan = ctx.fft_plan_c2c(int(dims[2]), int(dims[1]), int(dims[0]));
  float* interleaved = reinterpret_cast<float*>(data);
  real_to_complex(ctx, hr, interleaved, total);
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_FORWARD));
  weight_kspace_band(ctx, interleaved, dims, t);
  MDCSRN_CUDA_CHECK(cufftExecC2C(plan, data, data, CUFFT_INVERSE));
  complex_magnitude(ctx, interleaved, 1.f / float(total), lr, total);
}

}  // namespace mdcsrn::gpu
