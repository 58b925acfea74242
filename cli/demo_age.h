#pragma once
// The demo's brain-age section (mdcsrn demo --age): a synthetic cohort made from the demo's
// Colin27 (io/age_cohort.h) on a 2 mm grid, each subject's LR by the demo's k-space truncation
// and SR by each of the demo's trained generators, then the brain-age study (models/age_study.h)
// on HR, LR and every SR set. The cohort shows the pipeline working; it is not a brain-age result.
#include <string>
#include <vector>

#include "io/manifest.h"
#include "models/age_study.h"

namespace mdcsrn {
class CudaContext;
}

namespace mdcsrn::cli {

struct DemoGenerator {
  std::string set;         // image-set name, e.g. SR_uniform
  std::string config_dir;  // the training run's folder (config.json)
  std::string checkpoint;
};

struct DemoAgeOptions {
  std::string out_dir;      // the section's folder: cohort/ and study/
  std::string config_file;  // the study's settings (configs/age_demo.json)
  int subjects = 15;
  bool progress = true;
};

struct DemoAgeResult {
  AgeStudyResult study;
  AgeStudyConfig config;
  double cohort_seconds = 0, study_seconds = 0;
  std::string grid;  // the cohort's grid, described
};

DemoAgeResult run_demo_age(const Manifest& manifest, const std::vector<DemoGenerator>& generators, const DemoAgeOptions& o, CudaContext* ctx);

// The report's section: what the cohort is, the table, the scatter plot.
std::string demo_age_section(const DemoAgeResult& r, const std::string& folder_in_report);

}  // namespace mdcsrn::cli
