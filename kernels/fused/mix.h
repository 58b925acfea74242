#pragma once
// The 1x1x1 convolutions of the fast path, over channels [0, K) of the NDHWC bf16 feature buffer
// with the folded weights (kernels/channel_fold.h):
// - a compressor: 32 output channels, a GEMM on tensor cores (M = voxels, N = 32, K = channels),
//   its A tiles brought in by cp.async, bf16 outputs into the buffer and the moments of the rounded
//   outputs per tile merged into their batch statistics;
// - the reconstruction: one fp32 output, a dot product per voxel (it is bound by reading the
//   features, not by arithmetic).
// Backward (mix_backward.cu) keeps the output gradients of all 1x1 layers side by side in bf16
// (MixGradients), in the order compressor 1, 2, ... then the reconstruction (padded to 16
// columns). The layers that read a dense block's channels are a suffix of that order, so one GEMM
// over the suffix writes the block's feature gradient once (no memset, no read-modify-write per
// consumer). Each layer's weight gradient is a GEMM over the voxels (M = outputs, N = inputs).
#include <cstdint>

#include "engine/collectives.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/deferred_gradient.h"
#include "kernels/fused/weight_gradient_partials.h"

namespace mdcsrn {

constexpr int kCompressorOutputs = 32;

// Words of packed compressor weights over K inputs (a multiple of 16; packed as K rounded up to 32,
// zeros beyond K): [K' / 16][32 lanes][8], lane l's words the mma B fragments (registers 0, 1) of
// output channels 0-7, 8-15, 16-23 and 24-31.
inline int64_t packed_compressor_weight_words(int inputs) { return int64_t((inputs + 31) / 32 * 2) * 32 * 8; }

// The reconstruction's output gradient takes 16 columns, its gradient in the first.
constexpr int kReconstructionColumns = 16;
// The most columns the data-gradient GEMM takes (its A fragments stay in registers).
constexpr int kMaxMixGradientColumns = 128;

struct MixGradients {
  uint16_t* data = nullptr;  // bf16 [voxels][columns]
  int64_t voxels = 0;
  int32_t columns = 0;  // a multiple of 16
};

// Words of the data gradient's packed weights for K columns and N channels: [K / 16][N / 16][32
// lanes][4], lane l's words the mma B fragments (registers 0, 1) of channels 16 j + 0-7, then 8-15.
inline int64_t packed_mix_data_gradient_words(int columns, int channels) { return int64_t(columns / 16) * (channels / 16) * 32 * 4; }

namespace gpu {
// folded: [32][inputs] fp32 (a compressor's weights over the distinct channels).
template <class Context>
void pack_compressor_weights(Context& ctx, const float* folded, int inputs, uint32_t* packed);
// Channels [output_channel, +32) of `features` from its channels [0, inputs).
template <class Context>
void compressor_forward(Context& ctx, ChannelsLast features, int inputs, const uint32_t* packed, int output_channel, float eps, float* mean,
                        float* var, float* invstd, const Collectives* ranks = nullptr);
// out[v] = sum over c < inputs of weights[c] * features[v][c]; out has the buffer's voxels.
template <class Context>
void reconstruction_forward(Context& ctx, ChannelsLast features, int inputs, const float* weights, float* out);

// Columns [column, column + 32) of G: the gradient of feature channels [channel, channel + 32)
// (a compressor's outputs), formed from its deferred parts.
template <class Context>
void compressor_output_gradient(Context& ctx, ChannelsLast features, const DeferredGradient& g, int channel, MixGradients G, int column);
// Columns [column, column + 16) of G: dout (fp32, one per voxel), then zeros.
template <class Context>
void reconstruction_output_gradient(Context& ctx, const float* dout, MixGradients G, int column);
// folded_grad[o][c] = sum over voxels of G[v][column + o] * features[v][c], o < outputs (at most
// 32; the columns are read in whole groups of 16), c < inputs (a multiple of 16); overwritten.
template <class Context>
void mix_weight_gradient(Context& ctx, ChannelsLast features, int inputs, MixGradients G, int column, int outputs, float* folded_grad,
                         int max_blocks = kWeightGradientBlocks);
// The B operand of the data gradient: row k < columns is folded[column_rows[k] + first_channel + n]
// for channel n < channels, or zero where column_rows[k] < 0.
template <class Context>
void pack_mix_data_gradient_weights(Context& ctx, const float* folded, const int32_t* column_rows, int columns, int first_channel,
                                    int channels, uint32_t* packed);
// The raw gradient of channels first_channel + n, n < channels, overwritten by sum over k of
// G[v][first_column + k] * B[k][n], the columns from first_column to the last.
template <class Context>
void mix_data_gradient(Context& ctx, MixGradients G, int first_column, const uint32_t* packed, const DeferredGradient& g, int first_channel,
                       int channels);
}  // namespace gpu

}  // namespace mdcsrn
