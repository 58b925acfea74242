#include "kernels/patch_sampler.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

constexpr int kRowThreads = 32, kPlaneRows = 8;  // block (32, 8): x walks a row, y the patch's depth

// One block per patch: thread 0 draws the centre, then every thread gathers voxels (i, j, k) with
// i = x, x + 32, ... and k = y, y + 8, ...
// first_patch_at, when given, holds the first patch's number instead of first_patch.
MDCSRN_KERNEL void gather_kernel(SamplerView v, const int64_t* first_patch_at, int64_t first_patch, float* lr, float* hr, int32_t* centres) {
  const simt::Shared<PatchWindow> window = simt::shared<PatchWindow>(0, 1);
  const int64_t b = simt::block_idx().x;
  if (simt::linear_thread() == 0) {
    const DrawnCentre centre = draw_centre(v, (first_patch_at ? *first_patch_at : first_patch) + b);
    write_centre(v, centre, centres + b * kCentreFields);
    window.store(0, patch_window(v, centre));
  }
  simt::barrier();
  const PatchWindow w = window.load(0);
  const int32_t p = v.patch;
  float* lr_patch = lr + b * p * p * p;
  float* hr_patch = hr + b * p * p * p;
  for (int32_t k = int32_t(simt::thread_idx().y); k < p; k += kPlaneRows)
    for (int32_t j = 0; j < p; ++j)
      for (int32_t i = int32_t(simt::thread_idx().x); i < p; i += kRowThreads) {
        const int32_t e = (k * p + j) * p + i;
        gather_voxel(v, w, i, j, k, lr_patch[e], hr_patch[e]);
      }
}

simt::LaunchConfig gather_launch(int batch, std::source_location where = std::source_location::current()) {
  return simt::LaunchConfig(simt::Dim3(unsigned(batch)), simt::Dim3(kRowThreads, kPlaneRows), sizeof(PatchWindow), where);
}

}  // namespace

template <class Context>
void gather_patches(Context& ctx, const SamplerView& v, int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres) {
  simt::launch(ctx, gather_launch(batch), gather_kernel, v, static_cast<const int64_t*>(nullptr), first_patch, lr, hr, centres);
}

template <class Context>
void gather_patches_at(Context& ctx, const SamplerView& v, const int64_t* first_patch, int batch, float* lr, float* hr, int32_t* centres) {
  simt::launch(ctx, gather_launch(batch), gather_kernel, v, first_patch, int64_t(0), lr, hr, centres);
}

template void gather_patches(simt::TargetContext&, const SamplerView&, int64_t, int, float*, float*, int32_t*);
template void gather_patches_at(simt::TargetContext&, const SamplerView&, const int64_t*, int, float*, float*, int32_t*);

}  // namespace mdcsrn::gpu
