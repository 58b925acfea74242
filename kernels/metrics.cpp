#include "kernels/metrics.h"

#include <boost/math/distributions/students_t.hpp>

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/volume_lines.h"

namespace mdcsrn {
namespace {

std::vector<double> window_weights(SsimWindow window) {
  if (window == SsimWindow::Uniform7) return std::vector<double>(7, 1.0 / 7);
  // scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5): radius int(3.5 * 1.5 + 0.5) = 5.
  const double sigma = 1.5;
  const int radius = int(3.5 * sigma + 0.5);
  std::vector<double> w(size_t(2 * radius + 1));
  double sum = 0;
  for (int t = -radius; t <= radius; ++t) sum += w[size_t(t + radius)] = std::exp(-0.5 * t * t / (sigma * sigma));
  for (double& x : w) x /= sum;
  return w;
}

// scipy.ndimage's 'reflect' boundary: (d c b a | a b c d | d c b a).
int64_t reflect(int64_t x, int64_t n) {
  while (x < 0 || x >= n) x = x < 0 ? -x - 1 : 2 * n - x - 1;
  return x;
}

// Separable filtering along each axis in turn.
void filter(std::vector<double>& v, const std::array<int64_t, 3>& dims, const std::vector<double>& w) {
  const int64_t radius = int64_t(w.size()) / 2;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = dims[size_t(axis)];
    const int64_t step = axis_step(axis, dims);
    const int64_t lines = int64_t(v.size()) / n;
    parallel_for(lines, 64, [&](int64_t begin, int64_t end) {
      std::vector<double> line(static_cast<size_t>(n));
      for (int64_t l = begin; l < end; ++l) {
        const int64_t start = axis_line_start(axis, l, dims);
        for (int64_t x = 0; x < n; ++x) line[size_t(x)] = v[size_t(start + x * step)];
        for (int64_t x = 0; x < n; ++x) {
          double sum = 0;
          for (int64_t t = -radius; t <= radius; ++t) sum += w[size_t(t + radius)] * line[size_t(reflect(x + t, n))];
          v[size_t(start + x * step)] = sum;
        }
      }
    });
  }
}

}  // namespace

std::vector<double> ssim_map(const std::vector<float>& reference, const std::vector<float>& test, const std::array<int64_t, 3>& dims,
                             double data_range, SsimWindow window) {
  MDCSRN_ASSERT(reference.size() == test.size(), "ssim: volumes differ in size");
  const std::vector<double> w = window_weights(window);
  const size_t n = reference.size();
  std::vector<double> ux(n), uy(n), uxx(n), uyy(n), uxy(n);
  for (size_t v = 0; v < n; ++v) {
    const double x = reference[v], y = test[v];
    ux[v] = x, uy[v] = y, uxx[v] = x * x, uyy[v] = y * y, uxy[v] = x * y;
  }
  for (std::vector<double>* f : {&ux, &uy, &uxx, &uyy, &uxy}) filter(*f, dims, w);
  // Sample covariance as scikit-image: NP / (NP - 1) with NP the window's voxel count.
  const double np = std::pow(double(w.size()), 3);
  const double cov_norm = np / (np - 1);
  const double c1 = std::pow(0.01 * data_range, 2), c2 = std::pow(0.03 * data_range, 2);
  std::vector<double> s(n);
  for (size_t v = 0; v < n; ++v) {
    const double vx = cov_norm * (uxx[v] - ux[v] * ux[v]), vy = cov_norm * (uyy[v] - uy[v] * uy[v]),
                 vxy = cov_norm * (uxy[v] - ux[v] * uy[v]);
    s[v] = ((2 * ux[v] * uy[v] + c1) * (2 * vxy + c2)) / ((ux[v] * ux[v] + uy[v] * uy[v] + c1) * (vx + vy + c2));
  }
  return s;
}

namespace {

// The 7-point Laplacian of x at voxel (i, j, k), a neighbour beyond a face mirrored to the voxel's
// other side (scipy.ndimage's "mirror"): a constant volume gives 0 everywhere.
double laplacian(const std::vector<float>& x, const std::array<int64_t, 3>& dims, int64_t i, int64_t j, int64_t k) {
  const int64_t at[3] = {i, j, k}, stride[3] = {1, dims[0], dims[0] * dims[1]};
  const int64_t v = i + dims[0] * (j + dims[1] * k);
  double sum = 0;
  for (int axis = 0; axis < 3; ++axis) {
    if (dims[axis] < 2) continue;
    const int64_t below = at[axis] > 0 ? -stride[axis] : stride[axis], above = at[axis] + 1 < dims[axis] ? stride[axis] : -stride[axis];
    sum += double(x[size_t(v + below)]) + double(x[size_t(v + above)]) - 2 * double(x[size_t(v)]);
  }
  return sum;
}

}  // namespace

RegionMetrics region_metrics(const std::vector<float>& reference, const std::vector<float>& test, const std::vector<double>& ssim,
                             const std::array<int64_t, 3>& dims, const uint8_t* mask, double data_range, SsimWindow window) {
  const int64_t pad = int64_t(window_weights(window).size()) / 2;
  double squared_error = 0, squared_reference = 0, ssim_sum = 0, test_detail = 0, reference_detail = 0;
  int64_t count = 0, ssim_count = 0;
  for (int64_t k = 0; k < dims[2]; ++k)
    for (int64_t j = 0; j < dims[1]; ++j)
      for (int64_t i = 0; i < dims[0]; ++i) {
        const size_t v = size_t(i + dims[0] * (j + dims[1] * k));
        if (mask && !mask[v]) continue;
        const double d = double(reference[v]) - double(test[v]);
        squared_error += d * d;
        squared_reference += double(reference[v]) * double(reference[v]);
        const double lt = laplacian(test, dims, i, j, k), lr = laplacian(reference, dims, i, j, k);
        test_detail += lt * lt;
        reference_detail += lr * lr;
        ++count;
        const bool interior = i >= pad && j >= pad && k >= pad && i < dims[0] - pad && j < dims[1] - pad && k < dims[2] - pad;
        if (mask || interior) ssim_sum += ssim[v], ++ssim_count;
      }
  MDCSRN_ASSERT(count > 0, "metrics: the region is empty");
  RegionMetrics m;
  m.voxels = count;
  const double mse = squared_error / double(count);
  m.psnr = mse > 0 ? 10 * std::log10(data_range * data_range / mse) : std::numeric_limits<double>::infinity();
  m.nrmse = std::sqrt(squared_error / squared_reference);
  m.ssim = ssim_sum / double(ssim_count);
  m.hf_energy = reference_detail > 0 ? test_detail / reference_detail : std::numeric_limits<double>::quiet_NaN();
  return m;
}

double paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  MDCSRN_ASSERT(a.size() == b.size(), "paired t-test: the two methods have different numbers of subjects");
  const size_t n = a.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += (a[i] - b[i]) / double(n);
  double var = 0;
  for (size_t i = 0; i < n; ++i) var += (a[i] - b[i] - mean) * (a[i] - b[i] - mean) / double(n - 1);
  if (!(var > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double t = mean / std::sqrt(var / double(n));
  const boost::math::students_t distribution(double(n - 1));
  return 2 * boost::math::cdf(boost::math::complement(distribution, std::fabs(t)));
}

}  // namespace mdcsrn
