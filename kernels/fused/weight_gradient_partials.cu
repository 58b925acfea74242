// The blocks' partials summed in two deterministic passes: first `groups` consecutive ranges of
// blocks, one thread a (range, weight), each range's sum written over its own first partial (no
// other thread reads that row); then the ranges' sums in order, one thread a weight. A weight's
// 512 partials were one thread's chain of dependent adds over 27-108 blocks (the b4u4 units'
// 6,912-27,648 weights): latency, not bandwidth, set its time; 16 ranges give the first pass 16
// times the threads and chains of 32.
#include "kernels/flat_grid.h"
#include "kernels/fused/weight_gradient_partials.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

constexpr int64_t kRanges = 16;

MDCSRN_HD int64_t range_first(int64_t blocks, int64_t ranges, int64_t r) { return blocks * r / ranges; }

MDCSRN_KERNEL void sum_ranges_kernel(float* partials, int64_t blocks, int64_t ranges, int64_t count) {
  for (int64_t j = flat_thread(); j < ranges * count; j += flat_stride()) {
    const int64_t r = j / count, i = j % count;
    const int64_t first = range_first(blocks, ranges, r), end = range_first(blocks, ranges, r + 1);
    float sum = 0.f;
    for (int64_t b = first; b < end; ++b) sum += partials[b * count + i];
    partials[first * count + i] = sum;
  }
}

MDCSRN_KERNEL void sum_range_sums_kernel(const float* partials, int64_t blocks, int64_t ranges, int64_t count, float* out) {
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) {
    float sum = 0.f;
    for (int64_t r = 0; r < ranges; ++r) sum += partials[range_first(blocks, ranges, r) * count + i];
    out[i] = sum;
  }
}

}  // namespace

template <class Context>
void sum_block_partials(Context& ctx, float* partials, int64_t blocks, int64_t count, float* out) {
  const int64_t ranges = std::min(kRanges, blocks);
  simt::launch(ctx, flat_launch(ranges * count), sum_ranges_kernel, partials, blocks, ranges, count);
  simt::launch(ctx, flat_launch(count), sum_range_sums_kernel, static_cast<const float*>(partials), blocks, ranges, count, out);
}

template void sum_block_partials(simt::TargetContext&, float*, int64_t, int64_t, float*);

}  // namespace mdcsrn::gpu
