#pragma once
// Formulas shared by BatchNorm and LayerNorm: both normalise x to xhat = (x - mean) * invstd over
// some set of elements and apply an affine map, so their input gradients have the same form.
#include <cmath>
#include <cstdint>

#include "engine/hd.h"

namespace mdcsrn {

enum class NormMode { Train, Eval };

// On the host in double, named explicitly: an unqualified sqrt of a float would take the float
// overload that CUDA's headers add to the global namespace when they were included before this
// one, and double's otherwise, so a CPU run's bits would depend on a translation unit's includes.
template <class T>
MDCSRN_HD T inverse_std(T variance, T eps) {
#ifdef __CUDA_ARCH__
  return T(1) / sqrt(variance + eps);
#else
  return T(T(1) / std::sqrt(double(variance + eps)));
#endif
}

template <class T>
MDCSRN_HD T normalize_affine(T x, T mean, T invstd, T weight, T bias) {
  return (x - mean) * invstd * weight + bias;
}

// Gradient of x for xhat = (x - mean) * invstd with batch statistics, given g = dL/dxhat and the
// means of g and g * xhat over the normalised set.
template <class T>
MDCSRN_HD T normalized_input_grad(T g, T xhat, T invstd, T mean_g, T mean_g_xhat) {
  return invstd * (g - mean_g - xhat * mean_g_xhat);
}

// PyTorch's running variance averages the unbiased batch variance.
template <class T>
MDCSRN_HD T unbiased_variance(T biased, int64_t count) {
  return count > 1 ? biased * T(count) / T(count - 1) : biased;
}

template <class T>
MDCSRN_HD T running_average(T running, T batch, T momentum) {
  return (T(1) - momentum) * running + momentum * batch;
}

}  // namespace mdcsrn
