#pragma once
// Batch statistics the fused CPU kernels produce: each plane (one sample's depth slice) of a
// producer's outputs gives its channels' moments in double, two-pass over the plane's values;
// the planes are merged in order (Chan's formula), so the result does not depend on how the
// planes were shared among threads. Data-parallel ranks gather every rank's merged moments and
// merge them in rank order.
#include <cstdint>
#include <vector>

#include "engine/collectives.h"
#include "kernels/reduce.h"

namespace mdcsrn::cpu_fused {

using PlaneMoments = Moments<double>;

// Blocks of consecutive planes whose weight-gradient partials are summed in block order: fixed,
// whatever the number of threads, so that the sums repeat bit for bit.
constexpr int64_t kWeightGradientPlaneBlocks = 16;

// partials[b * count + i] summed over the blocks b < blocks in block order, element by element.
std::vector<float> sum_blocks_in_order(const std::vector<float>& partials, int64_t blocks, int64_t count);

// moments[p * channels + c] over `planes` planes -> mean, biased variance and 1/sqrt(var + eps).
void finish_statistics(const std::vector<PlaneMoments>& moments, int64_t planes, int channels, float eps, float* mean, float* var,
                       float* invstd, const Collectives* ranks);

// The moments of values[i * stride + c] over i < count, for c < channels, into out[c].
void plane_moments(const float* values, int64_t count, int64_t stride, int channels, PlaneMoments* out);

// Sums per plane [planes][channels][2], merged in plane order; with ranks, also every rank's in
// rank order. Returns the global sums and leaves this rank's own in `own`.
std::vector<double> merge_plane_sums(const std::vector<double>& sums, int64_t planes, int channels, const Collectives* ranks,
                                     std::vector<double>& own);

}  // namespace mdcsrn::cpu_fused
