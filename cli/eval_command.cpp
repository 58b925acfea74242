#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "io/evaluation.h"
#include "io/masks.h"
#include "io/staged_outputs.h"
#include "io/volume.h"
#include "kernels/metrics.h"

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn eval --reference HR.nii.gz --test X.nii.gz [--mask M.nii.gz] [--window uniform|gaussian]
                   [--data-range R]
       mdcsrn eval --manifest M.json [--split test] --method NAME=PATH [--method ...] [--out DIR]
                   [--window uniform|gaussian]

The first form compares a test volume with a reference on the same grid and prints PSNR, SSIM,
NRMSE and the HF energy as JSON. The second evaluates a split of a dataset: for each of its subjects, the LR input
and each method's volume (PATH, with {id} replaced by the subject's id) against the HR, over the
brain and over the cerebellum inside the subject's split region; it writes DIR/metrics.csv (per
subject) and DIR/summary.md (mean +/- std as the paper's Table II, and paired t-tests between
methods), replacing earlier ones together once every volume is evaluated, and prints the summary.
Subjects are evaluated several at once (one a CPU thread, at most 8), listed in the split's order.
Definitions (REFERENCE.md section 7):
  PSNR  = 10 log10(R^2 / MSE), R the data range of the normalised HR (default 1);
  SSIM  = scikit-image's 3-D SSIM: 7^3 uniform window (or --window gaussian: sigma 1.5),
          K1 = 0.01, K2 = 0.03, sample covariance, data range R;
  NRMSE = ||HR - X|| / ||HR||;
  HF energy = sum (L X)^2 / sum (L HR)^2, L the 7-point Laplacian: HR's finest detail that X
          carries (1 for HR; below 1 blur, above 1 noise or invented texture). Not the paper's.
With --mask, MSE, NRMSE and the HF energy are taken over the mask's voxels and the SSIM map (computed on the whole
volume) is averaged over them; without, over the whole volume (SSIM away from the border, as
scikit-image).
)";

}  // namespace

int run_eval(int argc, char** argv) {
  std::vector<char*> rest;
  std::vector<Method> methods;
  for (const std::string& spec : take_repeated(argc, argv, "--method", "NAME=PATH", rest)) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail("option --method: expected NAME=PATH, got '" + spec + "'");
    methods.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
  }
  const Args args(int(rest.size()), rest.data(), 2, {"reference", "test", "mask", "window", "data-range", "manifest", "split", "out"}, {}, "mdcsrn eval");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string window_name = args.get("window", "uniform");
  if (window_name != "uniform" && window_name != "gaussian") fail("option --window: expected uniform or gaussian");
  const SsimWindow window = window_name == "uniform" ? SsimWindow::Uniform7 : SsimWindow::Gaussian;
  if (args.has("manifest")) {
    const std::vector<EvaluationRow> rows = evaluate_split(Manifest::load(args.get("manifest")), args.get("split", "test"), methods, window);
    const std::string summary = evaluation_summary(rows);
    if (args.has("out")) {
      StagedOutputs outputs;  // the two files replace an earlier pair together
      write_text_atomically(outputs.stage(args.get("out") + "/metrics.csv"), evaluation_csv(rows));
      write_text_atomically(outputs.stage(args.get("out") + "/summary.md"), summary);
      outputs.commit();
    }
    std::printf("%s", summary.c_str());
    return 0;
  }
  if (!args.has("reference") || !args.has("test")) fail("eval: give --reference and --test, or --manifest (see mdcsrn eval --help)");
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
  const nlohmann::json out = {{"psnr", m.psnr}, {"ssim", m.ssim}, {"nrmse", m.nrmse}, {"hf_energy", m.hf_energy}, {"voxels", m.voxels},
                              {"ssim_window", window_name}, {"data_range", range}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace mdcsrn::cli
