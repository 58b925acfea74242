#include "cli/demo_age.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "io/age_cohort.h"
#include "io/age_grid.h"
#include "io/figure.h"
#include "io/progress.h"
#include "io/volume.h"
#include "kernels/kspace.h"
#include "models/checkpoint.h"
#include "models/inference.h"
#include "models/train_config.h"

namespace mdcsrn::cli {
namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The cohort's voxel size: the regression test's (tests/test_colin27.cpp), and 64 times fewer
// voxels than Colin27's 0.5 mm for the SR inferences, which take most of the section's time.
constexpr double kCohortSpacing = 2.0;

// The volume on an axis-aligned grid of kCohortSpacing covering its field of view, scaled to a
// maximum of 1 (as prepare normalises HR).
Volume on_cohort_grid(const Volume& v, const AgeGrid& grid, bool binary) {
  std::vector<float> values = resample_for_age(v, grid);
  const float peak = *std::max_element(values.begin(), values.end());
  for (float& x : values) x = binary ? (x > 0.5f * peak ? 1.f : 0.f) : x / peak;
  return age_grid_volume(v, grid, std::move(values));
}

}  // namespace

DemoAgeResult run_demo_age(const Manifest& manifest, const std::vector<DemoGenerator>& generators, const DemoAgeOptions& o, CudaContext* ctx) {
  DemoAgeResult r;
  const auto start = std::chrono::steady_clock::now();
  const SubjectEntry& colin = manifest.subjects.at(0);
  const Volume hr = read_volume(manifest.resolve(colin.hr)), brain = read_volume(manifest.resolve(colin.brain_mask));
  const std::array<double, 3> mm = hr.voxel_size();
  AgeGrid grid{kCohortSpacing, {}};
  for (size_t a = 0; a < 3; ++a) grid.size[a] = int64_t(double(hr.dims[a]) * mm[a] / kCohortSpacing);
  r.grid = grid.describe();
  const Volume base = on_cohort_grid(hr, grid, false), mask = on_cohort_grid(brain, grid, true);

  const fs::path cohort_dir = fs::path(o.out_dir) / "cohort";
  fs::create_directories(cohort_dir);
  std::vector<GeneratorState> states;
  std::vector<GeneratorConfig> models;
  for (const DemoGenerator& g : generators) {
    models.push_back(parse_train_config(merge_train_config((fs::path(g.config_dir) / "config.json").string(), {})).model);
    states.push_back(load_checkpoint(g.checkpoint, GeneratorLayout(models.back())));
  }
  AgeCohortOptions cohort;
  cohort.subjects = o.subjects;
  InferenceOptions inference;
  inference.batch = ctx ? 64 : 8;
  std::string table = "id,age,HR,LR";
  for (const DemoGenerator& g : generators) table += "," + g.set;
  table += "\n";
  std::unique_ptr<ProgressBar> bar;
  if (o.progress) bar = std::make_unique<ProgressBar>("cohort: HR, LR, SR", o.subjects, "subjects");
  for (int s = 0; s < o.subjects; ++s) {
    const CohortSubject subject = make_cohort_subject(base, mask, cohort, s);
    const std::string stem = (cohort_dir / subject.id).string();
    write_volume(subject.hr, stem + "_hr.nii.gz", "mdcsrn demo --age: synthetic subject");
    std::vector<float> lr(subject.hr.data.size());
    cpu::kspace_truncate(subject.hr.data.data(), lr.data(), subject.hr.dims, manifest.kspace);
    write_volume(subject.hr.like(lr), stem + "_lr.nii.gz", "mdcsrn demo --age: k-space truncated LR");
    for (size_t g = 0; g < generators.size(); ++g)
      write_volume(subject.hr.like(super_resolve(models[g], states[g], lr, subject.hr.dims, inference, ctx)), stem + "_" + generators[g].set + ".nii.gz",
                   "mdcsrn demo --age: " + generators[g].set);
    table += subject.id + "," + std::to_string(subject.age) + ",{id}_hr.nii.gz,{id}_lr.nii.gz";
    for (const DemoGenerator& g : generators) table += ",{id}_" + g.set + ".nii.gz";
    table += "\n";
    if (bar) bar->update(s + 1, subject.id);
  }
  if (bar) bar->finish("");
  write_text_atomically((cohort_dir / "subjects.csv").string(), table);
  r.cohort_seconds = seconds_since(start);

  const auto study_start = std::chrono::steady_clock::now();
  const std::string study_dir = (fs::path(o.out_dir) / "study").string();
  fs::remove_all(study_dir);  // a fresh study: resuming is not the demo's job
  const nlohmann::json json = merge_age_config(o.config_file, {"data.subjects=" + nlohmann::json((cohort_dir / "subjects.csv").string()).dump(),
                                                               "output.dir=" + nlohmann::json(study_dir).dump()});
  r.config = parse_age_config(json);
  AgeStudyOptions options;
  options.progress = o.progress;
  options.say = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
  r.study = run_age_study(r.config, json, options);
  r.study_seconds = seconds_since(study_start);
  return r;
}

std::string demo_age_section(const DemoAgeResult& r, const std::string& folder) {
  std::ostringstream md;
  const AgeStudyConfig& c = r.config;
  md << "## Brain age (Table III layout), on a synthetic cohort\n\n"
     << "**The cohort shows the pipeline working; it is not a brain-age result.** No multi-subject data with ages can be "
        "shipped here, so "
     << r.study.ids.size() << " subjects were made from Colin27 (resampled to " << r.grid
     << "): each given an age in 20-80 and, growing with it, brain atrophy (the brain contracting towards its centre), "
        "widening sulci and ventricles and falling grey/white contrast, plus a random smooth deformation, bias field and "
        "noise for every subject (`io/age_cohort.h`). Each subject's LR is the demo's k-space truncation, and its SR volumes "
        "the demo's generators applied to that LR (they were trained at 0.5 mm, where anatomy spans four times as many voxels, "
        "so at 2 mm they see structures four times smaller than they learnt). Then `mdcsrn age`: "
     << c.training.model.describe() << " on " << c.grid.describe() << ", " << c.folds << "-fold cross-validation with the same folds "
     << "for every set, " << c.training.epochs << " epochs of batch " << c.training.batch << ". Cohort " << (r.cohort_seconds < 120 ? std::to_string(int(r.cohort_seconds)) + " s" : std::to_string(int(r.cohort_seconds / 60)) + " min")
     << ", study " << (r.study_seconds < 120 ? std::to_string(int(r.study_seconds)) + " s" : std::to_string(int(r.study_seconds / 60)) + " min")
     << ". Volumes and `subjects.csv`: `" << folder << "/cohort`; predictions: `" << folder << "/study/predictions.csv`.\n\n"
     << r.study.table << (figures_enabled() ? "\n![predicted against true age](" + folder + "/study/scatter.png)\n" : std::string());
  return md.str();
}

}  // namespace mdcsrn::cli
