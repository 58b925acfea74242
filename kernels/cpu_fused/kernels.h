#pragma once
// The fast path's kernels for CpuFusedContext: explicit specializations of the kernel templates of
// kernels/fused, kernels/batchnorm.h, kernels/channel_fold.h and kernels/optimizer.h, defined in
// kernels/cpu_fused/*.cpp. Included wherever FastGenerator<CpuFusedContext> is, so that every call
// resolves to them.
#include "kernels/batchnorm.h"
#include "kernels/channel_fold.h"
#include "kernels/cpu_fused/context.h"
#include "kernels/fused/mix.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"
#include "kernels/optimizer.h"

namespace mdcsrn::gpu {

using Cpu = CpuFusedContext;

template <>
void pack_unit_weights(Cpu&, const float* weights, int input_channels, uint32_t* packed);
template <>
void fold_batchnorm(Cpu&, const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels, float* scale,
                    float* shift);
template <>
void unit_forward(Cpu&, const UnitForward& u, float eps, float* mean, float* var, float* invstd, const Collectives* ranks);
template <>
void pack_unit_data_gradient_weights(Cpu&, const float* weights, int input_channels, uint32_t* packed);
template <>
void unit_weight_gradient(Cpu&, const UnitBackward& u, float* weight_grad, int max_blocks);
template <>
void unit_data_gradient(Cpu&, const UnitBackward& u, const UnitDataGradient& d, const Collectives* ranks);

template <>
void stem_forward(Cpu&, Tensor<const float> x, const float* weights, ChannelsLast out, float eps, float* mean, float* var, float* invstd,
                  const Collectives* ranks);
template <>
void stem_weight_gradient(Cpu&, Tensor<const float> x, ChannelsLast features, const DeferredGradient& g, float* weight_grad, int max_blocks);

template <>
void pack_compressor_weights(Cpu&, const float* folded, int inputs, uint32_t* packed);
template <>
void compressor_forward(Cpu&, ChannelsLast features, int inputs, const uint32_t* packed, int output_channel, float eps, float* mean,
                        float* var, float* invstd, const Collectives* ranks);
template <>
void reconstruction_forward(Cpu&, ChannelsLast features, int inputs, const float* weights, float* out);
template <>
void compressor_output_gradient(Cpu&, ChannelsLast features, const DeferredGradient& g, int channel, MixGradients G, int column);
template <>
void reconstruction_output_gradient(Cpu&, const float* dout, MixGradients G, int column);
template <>
void mix_weight_gradient(Cpu&, ChannelsLast features, int inputs, MixGradients G, int column, int outputs, float* folded_grad,
                         int max_blocks);
template <>
void pack_mix_data_gradient_weights(Cpu&, const float* folded, const int32_t* column_rows, int columns, int first_channel, int channels,
                                    uint32_t* packed);
template <>
void mix_data_gradient(Cpu&, MixGradients G, int first_column, const uint32_t* packed, const DeferredGradient& g, int first_channel,
                       int channels);

template <>
void batchnorm_update_running(Cpu&, const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                              float* running_var, int64_t channels);
template <>
void batchnorm_running_statistics(Cpu&, const float* running_mean, const float* running_var, float eps, float* mean, float* invstd,
                                  int64_t channels);
template <>
void fold_weights(Cpu&, const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded);
template <>
void unfold_grads(Cpu&, const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* dw,
                  GradMode mode);
template <>
void adam_with_copies(Cpu&, const AdamStep* s, float* params, const float* grads, float* m, float* v, int64_t count,
                      const int32_t* copy_index, uint16_t* copies);
template <>
void store_adam_step(Cpu&, const AdamStep& s, AdamStep* device);

}  // namespace mdcsrn::gpu
