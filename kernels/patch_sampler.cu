#include "kernels/cuda_launch.cuh"
#include "kernels/patch_sampler.h"

namespace mdcsrn::gpu {
namespace {

__global__ void __launch_bounds__(kThreads) gather_kernel(SamplerView v, int64_t first_patch, float* lr, float* hr, int32_t* centres) {
  __shared__ DrawnCentre centre;
  const int64_t b = blockIdx.x;
  if (threadIdx.x == 0) {
    centre = draw_centre(v, first_patch + b);
    write_centre(v, centre, centres + b * kCentreFields);
  }
  __syncthreads();
  const int64_t volume = int64_t(v.patch) * v.patch * v.patch;
  for (int64_t e = threadIdx.x; e < volume; e += kThreads) gather_voxel(v, centre, e, lr[b * volume + e], hr[b * volume + e]);
}

}  // namespace

void gather_patches(CudaContext& ctx, const SamplerView& v, int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres) {
  gather_kernel<<<unsigned(batch), kThreads, 0, ctx.stream()>>>(v, first_patch, lr, hr, centres);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
