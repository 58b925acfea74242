#pragma once
// Spectral normalisation of a weight (Miyato et al. 2018), as PyTorch's
// torch.nn.utils.parametrizations.spectral_norm defines it: the weight as a matrix W of `rows`
// outputs by `columns` = inputs x taps (its reshape to (out, -1)), persistent unit vectors u
// (rows) and v (columns) refined by power iteration, u = normalize(W v) then v = normalize(W^T u)
// (normalize(x) = x / max(|x|, 1e-12)), sigma = u^T W v, and the weight used W / sigma. Gradients
// treat u and v as constants, as PyTorch's do: for G the gradient of the normalised weight,
// dW = (G - <G, W / sigma> u v^T) / sigma. Sums run in double on both targets.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common.h"

namespace mdcsrn {

inline constexpr double kSpectralNormEps = 1e-12;  // F.normalize's

namespace cpu {

// out = x / max(|x|, eps).
template <class T>
void normalise_into(const std::vector<double>& x, T* out) {
  double squares = 0;
  for (const double e : x) squares += e * e;
  const double norm = std::max(std::sqrt(squares), kSpectralNormEps);
  for (size_t i = 0; i < x.size(); ++i) out[i] = T(x[i] / norm);
}

template <class T>
void spectral_power_iteration(const T* w, int64_t rows, int64_t columns, T* u, T* v, int iterations) {
  std::vector<double> t(static_cast<size_t>(rows)), s(static_cast<size_t>(columns));
  for (int it = 0; it < iterations; ++it) {
    for (int64_t i = 0; i < rows; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < columns; ++j) sum += double(w[i * columns + j]) * double(v[j]);
      t[static_cast<size_t>(i)] = sum;
    }
    normalise_into(t, u);
    for (int64_t j = 0; j < columns; ++j) {
      double sum = 0;
      for (int64_t i = 0; i < rows; ++i) sum += double(w[i * columns + j]) * double(u[i]);
      s[static_cast<size_t>(j)] = sum;
    }
    normalise_into(s, v);
  }
}

// sigma = u^T W v and normalised = W / sigma.
template <class T>
void spectral_normalise(const T* w, int64_t rows, int64_t columns, const T* u, const T* v, T* sigma, T* normalised) {
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) {
    double row = 0;
    for (int64_t j = 0; j < columns; ++j) row += double(w[i * columns + j]) * double(v[j]);
    total += double(u[i]) * row;
  }
  *sigma = T(total);
  for (int64_t k = 0; k < rows * columns; ++k) normalised[k] = w[k] / *sigma;
}

// In place: grad, the gradient of the normalised weight, becomes that of W.
template <class T>
void spectral_normalise_backward(const T* normalised, int64_t rows, int64_t columns, const T* u, const T* v, const T* sigma, T* grad) {
  double dot = 0;
  for (int64_t k = 0; k < rows * columns; ++k) dot += double(grad[k]) * double(normalised[k]);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < columns; ++j) {
      T& g = grad[i * columns + j];
      g = T((double(g) - dot * double(u[i]) * double(v[j])) / double(*sigma));
    }
}

}  // namespace cpu

// The GPU kernels (spectral_norm.cu), launched on a CudaContext or run by a simt::Emulator; sigma
// stays in device memory, so nothing synchronises.
namespace gpu {
template <class Context>
void spectral_power_iteration(Context& ctx, const float* w, int64_t rows, int64_t columns, float* u, float* v, int iterations);
template <class Context>
void spectral_normalise(Context& ctx, const float* w, int64_t rows, int64_t columns, const float* u, const float* v, float* sigma,
                        float* normalised);
template <class Context>
void spectral_normalise_backward(Context& ctx, const float* normalised, int64_t rows, int64_t columns, const float* u, const float* v,
                                 const float* sigma, float* grad);
}  // namespace gpu

}  // namespace mdcsrn
