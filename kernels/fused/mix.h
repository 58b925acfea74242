#pragma once
// The 1x1x1 convolutions of the fast path, over channels [0, K) of the NDHWC bf16 feature buffer
// with the folded weights (kernels/channel_fold.h):
// - a compressor: 32 output channels, a GEMM on tensor cores (M = voxels, N = 32, K = channels),
//   its A tiles brought in by cp.async, bf16 outputs into the buffer and the moments of the rounded
//   outputs per tile merged into their batch statistics;
// - the reconstruction: one fp32 output, a dot product per voxel (it is bound by reading the
//   features, not by arithmetic).
#include <cstdint>

#include "kernels/fused/channels_last.h"

namespace mdcsrn {

constexpr int kCompressorOutputs = 32;

// Words of packed compressor weights over K inputs (a multiple of 16; packed as K rounded up to 32,
// zeros beyond K): [K' / 16][32 lanes][8], lane l's words the mma B fragments (registers 0, 1) of
// output channels 0-7, 8-15, 16-23 and 24-31.
inline int64_t packed_compressor_weight_words(int inputs) { return int64_t((inputs + 31) / 32 * 2) * 32 * 8; }

namespace gpu {
// folded: [32][inputs] fp32 (a compressor's weights over the distinct channels).
template <class Context>
void pack_compressor_weights(Context& ctx, const float* folded, int inputs, uint32_t* packed);
// Channels [output_channel, +32) of `features` from its channels [0, inputs).
template <class Context>
void compressor_forward(Context& ctx, ChannelsLast features, int inputs, const uint32_t* packed, int output_channel, float eps, float* mean,
                        float* var, float* invstd);
// out[v] = sum over c < inputs of weights[c] * features[v][c]; out has the buffer's voxels.
template <class Context>
void reconstruction_forward(Context& ctx, ChannelsLast features, int inputs, const float* weights, float* out);
}  // namespace gpu

}  // namespace mdcsrn
