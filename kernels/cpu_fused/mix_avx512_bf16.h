#pragma once
// The 1x1 layers' plane loops (kernels/cpu_fused/mix.cpp) on CPUs with AVX512-BF16, in the tile of
// kernels/cpu_fused/microkernel_avx512_bf16.h: the compressor's forward and the data gradient read
// their channel pairs straight from the bf16 buffers (nothing widened or staged); the weight
// gradient, a sum over voxels, stages a plane's features and gradients with voxels paired. Run only
// where cpu_isa() >= CpuIsa::Avx512Bf16; mix.cpp chooses.
#include <cstdint>

#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/fused/mix.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {

// As mix.cpp's compressor_planes, with the weights as pairs of inputs [inputs / 2][32 outputs].
void compressor_planes(ChannelsLast f, int inputs, const uint32_t* weight_pairs, int output_channel, int64_t begin, int64_t end,
                       PlaneMoments* moments);
// As mix.cpp's mix_weight_gradient_planes.
void mix_weight_gradient_planes(ChannelsLast f, int inputs, MixGradients G, int column, int groups, int64_t begin, int64_t end,
                                float* partial);
// Voxels [0, voxels) of G and g, with the weights as pairs of columns [columns / 2][channels].
void mix_data_gradient_voxels(MixGradients G, int first_column, const uint32_t* weight_pairs, const DeferredGradient& g,
                              int first_channel, int channels, int64_t voxels);

}  // namespace mdcsrn::cpu_fused::avx512_bf16
