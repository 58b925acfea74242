#pragma once
// The dense unit's forward and data gradient (kernels/cpu_fused/unit.cpp's plane loops) on AMX
// tiles: each TDPBF16PS multiplies 16 voxels x 32 bf16 values of the staged window by 16 output
// pairs, into four 16-voxel x 16-channel fp32 tiles. Run where cpu_isa() is CpuIsa::AmxBf16, on the
// tiles cpu_amx_tiles() names; the weight gradient and the 1x1 layers stay on AVX512-BF16.
#include <cstdint>

#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_forward.h"

namespace mdcsrn::cpu_fused::amx {

// As avx512_bf16::forward_planes and data_gradient_planes (kernels/cpu_fused/unit_avx512_bf16.h),
// on the same weight pairs.
void forward_planes(const UnitForward& u, const uint32_t* weight_pairs, int64_t begin, int64_t end, PlaneMoments* moments);
void data_gradient_planes(const UnitBackward& u, const UnitDataGradient& d, const uint32_t* weight_pairs, int64_t begin,
                          int64_t end, double* sums);

}  // namespace mdcsrn::cpu_fused::amx
