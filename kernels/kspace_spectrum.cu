#include <cmath>

#include "kernels/flat_grid.h"
#include "kernels/kspace_spectrum.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

struct AxisBand {
  int64_t n, kept;
  bool truncate;
  MDCSRN_DEVICE float weight(int64_t index, KspaceWindow window) const {
    return truncate ? kspace_axis_weight(index, n, kept, window) : 1.f;
  }
};

MDCSRN_KERNEL void real_to_complex_kernel(const float* real, float* complex, int64_t count) {
  for (int64_t v = flat_thread(); v < count; v += flat_stride()) {
    complex[2 * v] = real[v];
    complex[2 * v + 1] = 0.f;
  }
}

// Block (x, j, k) scales line (j, k) along the first axis.
MDCSRN_KERNEL void weight_band_kernel(float* spectrum, AxisBand a0, AxisBand a1, AxisBand a2, KspaceWindow window) {
  const int64_t j = simt::block_idx().y, k = simt::block_idx().z;
  const float w1 = a1.weight(j, window), w2 = a2.weight(k, window);
  float* line = spectrum + 2 * (k * a1.n + j) * a0.n;
  for (int64_t i = flat_thread(); i < a0.n; i += flat_stride()) {
    const float w = a0.weight(i, window) * w1 * w2;  // the CPU's order of products
    line[2 * i] *= w;
    line[2 * i + 1] *= w;
  }
}

MDCSRN_KERNEL void magnitude_kernel(const float* complex, float scale, float* out, int64_t count) {
  for (int64_t v = flat_thread(); v < count; v += flat_stride()) out[v] = hypotf(complex[2 * v], complex[2 * v + 1]) * scale;
}

}  // namespace

template <class Context>
void real_to_complex(Context& ctx, const float* real, float* complex, int64_t count) {
  simt::launch(ctx, flat_launch(count, 4), real_to_complex_kernel, real, complex, count);
}

template <class Context>
void weight_kspace_band(Context& ctx, float* spectrum, const std::array<int64_t, 3>& dims, const KspaceTruncation& t) {
  MDCSRN_ASSERT(dims[1] <= 65535 && dims[2] <= 65535, "kspace_truncate: volume too large for the line grid");
  AxisBand band[3];
  for (size_t a = 0; a < 3; ++a) band[a] = AxisBand{dims[a], t.truncate[a] ? kept_frequencies(dims[a], t.scale) : dims[a], t.truncate[a]};
  const simt::LaunchConfig lines(simt::Dim3(unsigned((dims[0] + kThreads - 1) / kThreads), unsigned(dims[1]), unsigned(dims[2])),
                                 simt::Dim3(kThreads));
  simt::launch(ctx, lines, weight_band_kernel, spectrum, band[0], band[1], band[2], t.window);
}

template <class Context>
void complex_magnitude(Context& ctx, const float* complex, float scale, float* out, int64_t count) {
  simt::launch(ctx, flat_launch(count, 4), magnitude_kernel, complex, scale, out, count);
}

using simt::TargetContext;
template void real_to_complex(TargetContext&, const float*, float*, int64_t);
template void weight_kspace_band(TargetContext&, float*, const std::array<int64_t, 3>&, const KspaceTruncation&);
template void complex_magnitude(TargetContext&, const float*, float, float*, int64_t);

}  // namespace mdcsrn::gpu
