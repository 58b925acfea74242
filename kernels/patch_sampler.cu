#include "kernels/cuda_launch.cuh"
#include "kernels/patch_sampler.h"

namespace mdcsrn::gpu {
namespace {

__global__ void __launch_bounds__(kThreads) gather_kernel(SamplerView v, int64_t first_patch, float* lr, float* hr, int32_t* centres) {
  __shared__ DrawnCentre centre;
  const int64_t b = blockIdx.x;
  if (threadIdx.x == 0) {
    centre = draw_centre(v, first_patch + b);
    const int32_t* crop = v.crop + 6 * centre.subject;
    const int64_t ni = crop[3], nj = crop[4];
    int32_t* out = centres + b * kCentreFields;
    out[0] = centre.subject;
    out[1] = int32_t(crop[0] + centre.local % ni);
    out[2] = int32_t(crop[1] + centre.local / ni % nj);
    out[3] = int32_t(crop[2] + centre.local / (ni * nj));
    out[4] = centre.source;
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
