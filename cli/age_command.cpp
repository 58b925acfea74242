#include <cstdio>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "io/figure.h"
#include "models/age_study.h"

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn age --subjects FILE [--config FILE] [--set section.key=value ...] [options]

Brain-age prediction from HR, LR and SR images, the paper's Table III: one 3-D DenseNet regressor
per image set, trained and evaluated by K-fold cross-validation over the same subjects with the
same folds (5 by default; every subject is predicted once, by the model that did not train on it).
Reports the MAE per image set (mean +- std over the folds, and over all subjects) and paired
t-tests between sets on the per-subject absolute errors.

The subject table (CSV): a header "id,age,HR,LR,..." and one row per subject; every column but id
and age is an image set (HR, LR, each SR method), a path to a NIfTI volume relative to the table's
folder, in which {id} stands for the subject's id (e.g. sr_balanced/{id}_sr.nii.gz, as written by
mdcsrn infer --manifest). Use subjects the SR models never trained on (--exclude-manifest drops the
train and val subjects of the SR training manifest). For HCP, --ages takes the ages from HCP's own
CSV instead: the restricted file's Age_in_Yrs, or the unrestricted file's Age bins (22-25, 26-30,
31-35, 36+) at their midpoints, which the output then says.

Every volume is resampled through its affine onto one grid (grid.spacing, 2 mm; grid.size,
96x112x96 voxels, centred on the volume's field of view), trilinear, and divided by the 99.5th
percentile of its positive voxels. Ages are standardised by the training folds' mean and std.
Settings: defaults (MONAI's DenseNet121: model.features 64, growth 32, bottleneck 4, blocks
[6,12,24,16]; train.folds 5, epochs 40, batch 4, lr 1e-3 (Adam), loss l1 (or mse), seed 0, device
auto) <- --config FILE <- --set. configs/age_cpu.json is a small network on a 4 mm grid for CPUs.

Writes OUT/table3.md, OUT/predictions.csv (id, age, fold, one predicted age per set), OUT/scatter.png
and .pdf (predicted against true age), OUT/folds.csv, OUT/config.json, and per set and fold
OUT/folds/<set>_fold<k>.csv and OUT/models/<set>_fold<k>.safetensors (MONAI's DenseNet
state_dict, kernels in nibabel's axis order: it predicts on nibabel's arrays; docs/brain-age.md).
A study stopped part-way continues with --resume: finished folds are kept, the others retrained.
An OUT holding a previous study is refused unless --resume or --overwrite says which is meant.

options:
  --subjects FILE         the subject table (same as --set data.subjects=FILE)
  --sets A,B,...          the image-set columns to use (default: all)
  --ages FILE             HCP's behavioural CSV to read the ages from
  --exclude-manifest FILE leave out the train and val subjects of this manifest
  --config FILE           JSON configuration
  --set KEY=VALUE         override one setting, e.g. --set train.epochs=10 (repeatable)
  --out DIR               output folder (same as --set output.dir=DIR; default runs/age)
  --resume                continue the study in OUT with the same settings
  --overwrite             start over in an OUT that holds a previous study (its files are removed)
  --quiet                 no progress bars
)";

std::string json_string(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

int run_age(int argc, char** argv) {
  std::vector<char*> rest;
  std::vector<std::string> overrides = take_repeated(argc, argv, "--set", "section.key=value", rest);
  const Args args(int(rest.size()), rest.data(), 2, {"subjects", "sets", "ages", "exclude-manifest", "config", "out"}, {"resume", "overwrite", "quiet"},
                  "mdcsrn age");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.has("subjects")) overrides.push_back("data.subjects=" + json_string(args.get("subjects")));
  if (args.has("ages")) overrides.push_back("data.hcp_ages=" + json_string(args.get("ages")));
  if (args.has("exclude-manifest")) overrides.push_back("data.exclude_manifest=" + json_string(args.get("exclude-manifest")));
  if (args.has("out")) overrides.push_back("output.dir=" + json_string(args.get("out")));
  if (args.has("sets")) overrides.push_back("data.sets=" + nlohmann::json(split_list(args.get("sets"))).dump());
  const nlohmann::json json = merge_age_config(args.get("config"), overrides);
  const AgeStudyConfig config = parse_age_config(json);
  AgeStudyOptions options;
  options.progress = !args.has("quiet");
  options.resume = args.has("resume");
  options.overwrite = args.has("overwrite");
  if (options.resume && options.overwrite) fail("--resume and --overwrite: choose one");
  const AgeStudyResult r = run_age_study(config, json, options);
  std::printf("\n%s\n", r.table.c_str());
  std::printf("written: %s/table3.md, predictions.csv%s\n", config.out_dir.c_str(),
              figures_enabled() ? ", scatter.png, scatter.pdf" : " (figures: off, built without cairo)");
  return 0;
}

}  // namespace mdcsrn::cli
