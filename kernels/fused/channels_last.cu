#include "kernels/flat_grid.h"
#include "kernels/fused/channels_last.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// Block (x, group, n): voxels of sample n, eight channels 8 group .. 8 group + 7 each.
MDCSRN_KERNEL void planes_kernel(ChannelsLast src, int32_t first, Tensor<float> dst) {
  const int64_t n = simt::block_idx().z, group = simt::block_idx().y, spatial = dst.shape.spatial();
  const int64_t s = int64_t(simt::block_idx().x) * simt::block_dim().x + simt::thread_idx().x;
  if (s >= spatial) return;
  const simt::Words4 x = simt::load16(src.voxel(n * spatial + s) + first + 8 * group);
  const uint32_t pairs[4] = {x.x, x.y, x.z, x.w};
  for (int j = 0; j < 4; ++j) {
    dst.plane(n, 8 * group + 2 * j)[s] = bf16_to_float(bf16x2_low(pairs[j]));
    dst.plane(n, 8 * group + 2 * j + 1)[s] = bf16_to_float(bf16x2_high(pairs[j]));
  }
}

}  // namespace

template <class Context>
void planes_from_channels_last(Context& ctx, ChannelsLast src, int first, Tensor<float> dst) {
  MDCSRN_REQUIRE(dst.spatially_dense() && dst.shape.c % 8 == 0 && first % 8 == 0 && first + dst.shape.c <= src.stride && src.stride % 8 == 0 &&
                     dst.shape.n == src.shape.n && dst.shape.spatial() == int64_t(src.shape.d) * src.shape.h * src.shape.w,
                 "planes_from_channels_last: " + dst.shape.str() + " from channel " + std::to_string(first) + " of " + std::to_string(src.stride));
  MDCSRN_REQUIRE(dst.shape.n <= 65535, "planes_from_channels_last: more than 65535 samples");
  const simt::Dim3 grid(unsigned((dst.shape.spatial() + kThreads - 1) / kThreads), unsigned(dst.shape.c / 8), unsigned(dst.shape.n));
  simt::launch(ctx, simt::LaunchConfig(grid, simt::Dim3(kThreads)), planes_kernel, src, int32_t(first), dst);
}

template void planes_from_channels_last(simt::TargetContext&, ChannelsLast, int, Tensor<float>);

}  // namespace mdcsrn::gpu
