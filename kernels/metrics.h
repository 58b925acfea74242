#pragma once
// Image-quality metrics (REFERENCE.md section 7), in double precision on the CPU:
//   PSNR  = 10 log10(R^2 / MSE) with R the data range of the normalised HR (1.0);
//   NRMSE = ||HR - X|| / ||HR|| (scikit-image's 'euclidean');
//   SSIM  = scikit-image's 3-D definition: a 7^3 uniform window (or a Gaussian of sigma 1.5,
//           truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, sample covariance, reflecting borders.
//   HF energy = sum (L X)^2 / sum (L HR)^2, L the 7-point discrete Laplacian (mirrored at the
//           volume's faces): how much of HR's finest detail X carries, 1 for HR itself, below 1
//           for blur (the LR input), above for noise or invented texture; a sharpness measure
//           beside the paper's, for the high frequencies its title is about.
// Region metrics take MSE, NRMSE and the HF energy over the mask's voxels, and average the SSIM
// map (computed on the whole volume) over the mask's voxels.
#include <array>
#include <cstdint>
#include <vector>

namespace mdcsrn {

enum class SsimWindow { Uniform7, Gaussian };

// The SSIM map of test against reference; volumes in NIfTI order (i fastest).
std::vector<double> ssim_map(const std::vector<float>& reference, const std::vector<float>& test, const std::array<int64_t, 3>& dims,
                             double data_range, SsimWindow window);

struct RegionMetrics {
  double psnr = 0, ssim = 0, nrmse = 0, hf_energy = 0;
  int64_t voxels = 0;
};

// mask == nullptr: PSNR and NRMSE over every voxel, SSIM averaged over the voxels at least half a
// window from the border (scikit-image's convention).
RegionMetrics region_metrics(const std::vector<float>& reference, const std::vector<float>& test, const std::vector<double>& ssim,
                             const std::array<int64_t, 3>& dims, const uint8_t* mask, double data_range, SsimWindow window);

// Two-sided p-value of a paired t-test of a against b (scipy.stats.ttest_rel); NaN when fewer
// than two pairs or when every difference is equal.
double paired_t_test(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mdcsrn
