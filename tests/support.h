#pragma once
// Helpers shared by the tests: host tensors (dense or a channel slice of a wider buffer), random
// non-zero data, relative errors, and the central finite-difference gradient check.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/arena.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace mdcsrn::test {

template <class T>
struct HostTensor {
  std::vector<T> storage;
  Tensor<T> view;

  static HostTensor dense(const Shape5& s) {
    HostTensor t;
    t.storage.assign(size_t(s.numel()), T(0));
    t.view = Tensor<T>(t.storage.data(), s);
    return t;
  }
  // Channels [first, first + s.c) of a buffer with `total_channels` channels: strided like a
  // dense-block feature slice.
  static HostTensor slice(const Shape5& s, int64_t total_channels, int64_t first) {
    Shape5 wide = s;
    wide.c = total_channels;
    HostTensor t = dense(wide);
    t.view = t.view.channels(first, s.c);
    return t;
  }
  HostTensor(const HostTensor& o) : storage(o.storage), view(o.view) { view.data = storage.data() + (o.view.data - o.storage.data()); }
  HostTensor& operator=(const HostTensor& o) {
    storage = o.storage;
    view = o.view;
    view.data = storage.data() + (o.view.data - o.storage.data());
    return *this;
  }
  HostTensor() = default;

  Tensor<const T> in() const { return view; }
  int64_t first_offset() const { return view.data - storage.data(); }
};

// Same layout, elements converted.
template <class To, class From>
HostTensor<To> convert(const HostTensor<From>& from) {
  HostTensor<To> to;
  to.storage.assign(from.storage.begin(), from.storage.end());
  to.view = Tensor<To>(to.storage.data() + from.first_offset(), from.view.shape, from.view.stride);
  return to;
}

template <class To, class From>
std::vector<To> convert(const std::vector<From>& from) {
  return std::vector<To>(from.begin(), from.end());
}

// Uniform in [-1, 1] with |x| >= margin, keeping inputs away from kinks at zero.
template <class T>
std::vector<T> random_values(int64_t count, std::mt19937_64& rng, double margin = 0.0, double scale = 1.0) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(static_cast<size_t>(count));
  for (auto& x : v) {
    double r = u(rng);
    while (std::fabs(r) < margin) r = u(rng);
    x = T(r * scale);
  }
  return v;
}

template <class T>
void fill_random(HostTensor<T>& t, std::mt19937_64& rng, double margin = 0.0, double scale = 1.0) {
  const std::vector<T> values = random_values<T>(int64_t(t.storage.size()), rng, margin, scale);
  std::copy(values.begin(), values.end(), t.storage.begin());  // in place: the view keeps pointing at storage
}

// Offsets into storage of every element of the view, in (N, C, D, H, W) order.
template <class T>
std::vector<int64_t> view_offsets(const HostTensor<T>& t) {
  std::vector<int64_t> out;
  const Shape5& s = t.view.shape;
  out.reserve(static_cast<size_t>(s.numel()));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t d = 0; d < s.d; ++d)
        for (int64_t h = 0; h < s.h; ++h)
          for (int64_t w = 0; w < s.w; ++w) out.push_back(t.first_offset() + t.view.offset(n, c, d, h, w));
  return out;
}

template <class T>
std::vector<double> gather(const HostTensor<T>& t) {
  std::vector<double> out;
  for (int64_t i : view_offsets(t)) out.push_back(double(t.storage[size_t(i)]));
  return out;
}

// sum_i r_i * y_i: the scalar whose gradient with respect to y is r.
inline double weighted_sum(const std::vector<double>& y, const std::vector<double>& r) {
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) total += y[i] * r[i];
  return total;
}

// ||a - ref|| / ||ref||; NaN anywhere gives infinity so it never passes.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& ref) {
  REQUIRE(a.size() == ref.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff += (a[i] - ref[i]) * (a[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / (norm > 0 ? norm : 1.0));
}

struct FdOptions {
  int max_checks = 24;    // elements checked per tensor, drawn at random
  double step = 1e-6;     // central-difference step
  double rtol = 1e-6;     // allowed |analytic - numeric| relative to |numeric| ...
  double atol = 1e-8;     // ... plus this absolute floor
};

// Central differences of loss() with respect to storage[i], for up to max_checks of `offsets`,
// against analytic[i] (indexed like storage).
void check_finite_differences(const std::string& what, std::vector<double>& storage, const std::vector<int64_t>& offsets,
                              const std::vector<double>& analytic, const std::function<double()>& loss,
                              const FdOptions& options = {}, uint64_t seed = 7);

// The same for every parameter of a network's table, each entry checked on its own (seed 7).
void check_every_parameter(const ParamTable& table, std::vector<double>& params, const std::vector<double>& grads,
                           const std::function<double()>& loss, const FdOptions& options);

}  // namespace mdcsrn::test
