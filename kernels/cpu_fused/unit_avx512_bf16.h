#pragma once
// The dense unit's plane loops (kernels/cpu_fused/unit.cpp) on CPUs with AVX512-BF16: the staged
// operands stay bf16 and every multiply-add is VDPBF16PS, which adds two bf16 products (a pair of
// input channels, output channels or voxels: the reduction's index two at a time) to each of 16
// fp32 accumulators. Run only where cpu_isa() >= CpuIsa::Avx512Bf16; unit.cpp chooses.
#include <cstdint>

#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {

// As unit.cpp's forward_planes, weight_gradient_planes and data_gradient_planes: planes [begin,
// end) of the n x d planes. The weights are pairs (kernels/cpu_fused/bf16_pairs.h): the forward's
// over input channels, [27 taps][Cin / 2][16 outputs]; the data gradient's over outputs, [Cin / 16]
// [27 flipped taps][8][16 inputs].
void forward_planes(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments);
void weight_gradient_planes(const UnitBackward& u, int64_t begin, int64_t end, float* partial);
void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin,
                          int64_t end, double* sums);

}  // namespace mdcsrn::cpu_fused::avx512_bf16
