#pragma once
// The dense unit's plane loops (kernels/cpu_fused/unit.cpp) on AMX tiles: each TDPBF16PS
// multiplies 16 rows x 32 bf16 values of a staged plane (16 voxels of 32 channels, or for the
// weight gradient 16 outputs of 32 voxels) by 16 pairs of 16 columns, into one of four 16 x 16
// fp32 tiles. Run where cpu_isa() is CpuIsa::AmxBf16, on the tiles cpu_amx_tiles() names; the 1x1
// layers stay on AVX512-BF16.
#include <cstdint>

#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"

namespace mdcsrn::cpu_fused::amx {

// As avx512_bf16::forward_planes, weight_gradient_planes and data_gradient_planes
// (kernels/cpu_fused/unit_avx512_bf16.h), on the same weight pairs.
void forward_planes(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments);
void weight_gradient_planes(const UnitBackward& u, int64_t begin, int64_t end, float* partial);
void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin,
                          int64_t end, double* sums);

}  // namespace mdcsrn::cpu_fused::amx
