#pragma once
// Low-resolution synthesis by k-space truncation (REFERENCE.md section 1): the 3-D FFT of the
// volume, only the central 1/scale of the frequencies kept along each truncated (phase-encoding)
// axis, the rest zeroed, an optional window over the kept band, then the magnitude of the inverse
// FFT. The output stays on the input's grid. FFTW on the CPU, cuFFT on the GPU, both single
// precision, sharing the per-frequency weight below.
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/hd.h"

namespace mdcsrn {

enum class KspaceWindow { None, Hamming, Tukey };

KspaceWindow parse_kspace_window(const std::string& name);  // "none", "hamming", "tukey"
const char* kspace_window_name(KspaceWindow w);

struct KspaceTruncation {
  int scale = 4;
  std::array<bool, 3> truncate{false, true, true};  // per NIfTI axis (i, j, k)
  KspaceWindow window = KspaceWindow::None;
};

// Frequencies kept along an axis of n samples: the central floor(n / scale), at least 1.
inline int64_t kept_frequencies(int64_t n, int scale) {
  const int64_t kept = n / scale;
  return kept < 1 ? 1 : kept;
}

// Weight of DFT index `index` along an axis of n samples of which `kept` central frequencies are
// kept: 0 outside the band [-floor(kept/2), kept - floor(kept/2)), else the window's value (1 for
// none; Hamming and Tukey(0.5) taper towards the band's edges).
MDCSRN_HD float kspace_axis_weight(int64_t index, int64_t n, int64_t kept, KspaceWindow window) {
  const int64_t f = index <= (n - 1) / 2 ? index : index - n;  // signed frequency, as numpy.fft.fftfreq * n
  const int64_t low = -(kept / 2), high = kept - kept / 2;
  if (f < low || f >= high) return 0.f;
  if (window == KspaceWindow::None || kept < 2) return 1.f;
  const double half = double(kept) / 2.0;
  const double u = (f < 0 ? -double(f) : double(f)) / half;  // 0 at DC, ~1 at the band edge
  const double pi = 3.14159265358979323846;
  if (window == KspaceWindow::Hamming) return float(0.54 + 0.46 * cos(pi * u));
  const double alpha = 0.5;  // Tukey: flat over the inner half, cosine taper over the outer half
  return u <= 1.0 - alpha ? 1.f : float(0.5 * (1.0 + cos(pi * (u - (1.0 - alpha)) / alpha)));
}

namespace cpu {
// hr and lr hold ni * nj * nk voxels, i fastest. lr may alias hr.
void kspace_truncate(const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t);
}  // namespace cpu

#ifdef MDCSRN_HAVE_CUDA
class CudaContext;
namespace gpu {
// Device pointers; runs on ctx's stream using ctx's cached cuFFT plan and scratch memory.
void kspace_truncate(CudaContext& ctx, const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t);
}  // namespace gpu
#endif

}  // namespace mdcsrn
