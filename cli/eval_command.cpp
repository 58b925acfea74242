#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "io/masks.h"
#include "io/volume.h"
#include "kernels/metrics.h"

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn eval --reference HR.nii.gz --test X.nii.gz [--mask M.nii.gz] [--window uniform|gaussian]
                   [--data-range R]

Compares a test volume with a reference volume on the same grid and prints PSNR, SSIM and NRMSE
as JSON (REFERENCE.md section 7):
  PSNR  = 10 log10(R^2 / MSE), R the data range of the normalised HR (default 1);
  SSIM  = scikit-image's 3-D SSIM: 7^3 uniform window (or --window gaussian: sigma 1.5),
          K1 = 0.01, K2 = 0.03, sample covariance, data range R;
  NRMSE = ||HR - X|| / ||HR||.
With --mask, MSE and NRMSE are taken over the mask's voxels and the SSIM map (computed on the whole
volume) is averaged over them; without, over the whole volume (SSIM away from the border, as
scikit-image).
)";

}  // namespace

int run_eval(int argc, char** argv) {
  const Args args(argc, argv, 2, {"reference", "test", "mask", "window", "data-range"}, {}, "eval");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.has("reference") || !args.has("test")) fail("eval: --reference and --test are required (see mdcsrn eval --help)");
  const std::string window_name = args.get("window", "uniform");
  if (window_name != "uniform" && window_name != "gaussian") fail("option --window: expected uniform or gaussian");
  const SsimWindow window = window_name == "uniform" ? SsimWindow::Uniform7 : SsimWindow::Gaussian;
  double range = 1.0;
  try {
    range = std::stod(args.get("data-range", "1"));
  } catch (const std::exception&) {
    fail("option --data-range: not a number");
  }
  const Volume reference = read_volume(args.get("reference"));
  const Volume test = read_volume(args.get("test"));
  require_same_grid(reference, test, args.get("test"));
  Mask mask;
  if (args.has("mask")) {
    const Volume m = read_volume(args.get("mask"));
    require_same_grid(reference, m, args.get("mask"));
    mask = nonzero_mask(m);
    if (count(mask) == 0) fail(args.get("mask") + ": the mask is empty");
  }
  const std::vector<double> ssim = ssim_map(reference.data, test.data, reference.dims, range, window);
  const RegionMetrics m = region_metrics(reference.data, test.data, ssim, reference.dims, mask.empty() ? nullptr : mask.data(), range, window);
  const nlohmann::json out = {{"psnr", m.psnr}, {"ssim", m.ssim}, {"nrmse", m.nrmse}, {"voxels", m.voxels},
                              {"ssim_window", window_name}, {"data_range", range}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace mdcsrn::cli
