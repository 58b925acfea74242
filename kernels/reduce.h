#pragma once
// Accumulators for reductions, shared by the CPU loops and the CUDA block reductions. Each one
// has push() for one element and merge() for combining partial results in a fixed order, so a
// reduction's arithmetic is the same on both devices up to the order of the partials.
#include <cstdint>
#include <type_traits>

#include "engine/hd.h"

namespace mdcsrn {

// Count, mean and sum of squared deviations (Welford, with Chan et al.'s merge): stable in fp32
// over millions of elements, unlike sum and sum of squares.
template <class T>
struct Moments {
  int64_t count = 0;
  T mean = 0;
  T m2 = 0;

  MDCSRN_HD void push(T x) {
    ++count;
    const T delta = x - mean;
    mean += delta / T(count);
    m2 += delta * (x - mean);
  }
  MDCSRN_HD void merge(const Moments& o) {
    if (o.count == 0) return;
    if (count == 0) {
      *this = o;
      return;
    }
    const int64_t total = count + o.count;
    const T delta = o.mean - mean;
    const T weight = T(o.count) / T(total);
    mean += delta * weight;
    m2 += o.m2 + delta * delta * T(count) * weight;
    count = total;
  }
  MDCSRN_HD T variance() const { return count > 0 ? m2 / T(count) : T(0); }
};

// A GPU thread's moments of its few hundred elements without a division per element (Welford
// divides at every push): sums of deviations from a shift taken from the data itself (its first
// element), which keeps the sums small wherever the data are; result() gives Moments to merge.
template <class T>
struct ShiftedMoments {
  int64_t count = 0;
  T shift = 0, sum = 0, sum_squares = 0;

  MDCSRN_HD void push(T x) {
    if (count == 0) shift = x;
    const T d = x - shift;
    sum += d;
    sum_squares += d * d;
    ++count;
  }
  MDCSRN_HD Moments<T> result() const {
    Moments<T> m;
    if (count == 0) return m;
    m.count = count;
    const T mean_deviation = sum / T(count);
    m.mean = shift + mean_deviation;
    const T m2 = sum_squares - sum * mean_deviation;
    m.m2 = m2 > T(0) ? m2 : T(0);
    return m;
  }
};

// The CPU loops' type for plain sums of fp32 elements: double. A plane holds up to 32k elements,
// and where the terms cancel (a conv bias gradient before a LayerNorm) an fp32 running sum kept
// only ~3 correct digits; the GPU's per-thread partials are short and tree-merged.
template <class T>
using SumType = std::conditional_t<(sizeof(T) < sizeof(double)), double, T>;

// The moments of `count` contiguous elements by two passes summed in SumType<T>: the CPU
// normalisations' per-plane statistics. A running fp32 Welford mean drifts by ~sqrt(count)
// roundings, which a mean large against the spread turns into a shift of every normalised value
// (cpu.batchnorm, cpu.layernorm); the critic's gradient, a small difference between its gradients
// for SR and for HR, amplified that drift ~100-fold.
template <class T>
Moments<SumType<T>> plane_moments(const T* x, int64_t count) {
  using S = SumType<T>;
  S sum = 0;
  for (int64_t i = 0; i < count; ++i) sum += x[i];
  const S mean = count > 0 ? sum / S(count) : S(0);
  S m2 = 0;
  for (int64_t i = 0; i < count; ++i) {
    const S deviation = S(x[i]) - mean;
    m2 += deviation * deviation;
  }
  return Moments<S>{count, mean, m2};
}

// Two running sums, e.g. sum(dy) and sum(dy * xhat) in a normalisation's backward.
template <class T>
struct SumPair {
  T first = 0;
  T second = 0;

  MDCSRN_HD void push(T a, T b) {
    first += a;
    second += b;
  }
  MDCSRN_HD void merge(const SumPair& o) {
    first += o.first;
    second += o.second;
  }
  MDCSRN_HD SumPair result() const { return *this; }
};

template <class T>
struct Sum {
  T value = 0;

  MDCSRN_HD void push(T x) { value += x; }
  MDCSRN_HD void merge(const Sum& o) { value += o.value; }
  MDCSRN_HD Sum result() const { return *this; }
};

}  // namespace mdcsrn
