#pragma once
// The elementwise passes of the GPU's k-space truncation (kspace_cufft.cpp runs cuFFT between them), on
// interleaved complex samples (re, im), cuFFT's cufftComplex layout: a real volume made complex,
// the band's weights (kspace_axis_weight per axis, as the CPU's kspace_truncate) applied to its
// spectrum of ni * nj * nk samples, i fastest, and the scaled magnitude of the inverse transform.
// Launched on a CudaContext or run by a simt::Emulator.
#include <array>
#include <cstdint>

#include "kernels/kspace.h"

namespace mdcsrn::gpu {

template <class Context>
void real_to_complex(Context& ctx, const float* real, float* complex, int64_t count);

template <class Context>
void weight_kspace_band(Context& ctx, float* spectrum, const std::array<int64_t, 3>& dims, const KspaceTruncation& t);

// out[v] = |complex[v]| * scale.
template <class Context>
void complex_magnitude(Context& ctx, const float* complex, float scale, float* out, int64_t count);

}  // namespace mdcsrn::gpu
