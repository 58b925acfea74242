#pragma once
// The brain-age study (the paper's Table III): one regressor per image set (HR, LR, each SR
// method) trained and evaluated by K-fold cross-validation over the same subjects with the same
// folds, MAE per set (mean +- std over the folds, and over all subjects), paired t-tests between
// sets on the per-subject absolute errors, a CSV of every prediction and a scatter plot.
//
// Output folder: config.json; folds.csv (each subject's fold); folds/<set>_fold<k>.csv (a finished
// fold's predictions) and models/<set>_fold<k>.safetensors (its regressor), which a resumed run
// keeps instead of training again; predictions.csv; table3.md; scatter.png and .pdf.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/age_grid.h"
#include "models/age_training.h"

namespace mdcsrn {

struct AgeStudyConfig {
  std::string subjects;           // subjects.csv
  std::vector<std::string> sets;  // image-set columns; all when empty
  std::string hcp_ages;           // HCP's CSV to take the ages from, instead of the table's age column
  std::string exclude_manifest;   // subjects of this manifest's train and val splits are left out
  AgeGrid grid;
  AgeTrainingOptions training;
  int folds = 5;
  std::string device = "auto";    // auto, cpu, cuda
  std::string out_dir = "runs/age";
};

// Defaults: DenseNet121 on the 2 mm grid, 5 folds, 40 epochs of batch 4, Adam lr 1e-3, L1.
nlohmann::json default_age_config();
nlohmann::json merge_age_config(const std::string& file, const std::vector<std::string>& overrides);
AgeStudyConfig parse_age_config(const nlohmann::json& j);

struct AgeSetResult {
  std::string set;
  std::vector<double> predicted;  // per subject
  std::vector<double> fold_mae;   // per fold
  double mae = 0;                 // over all subjects
};

struct AgeStudyResult {
  std::vector<std::string> ids;
  std::vector<double> ages;
  std::vector<int> folds;
  std::vector<AgeSetResult> sets;
  std::string ages_source, device;
  int excluded = 0;
  std::string table;  // table3.md's text
};

struct AgeStudyOptions {
  bool progress = true;
  bool resume = false;  // keep the folds a previous run of the same settings finished
  bool overwrite = false;  // remove a previous study's files in the output folder, then start over
  std::function<void(const std::string&)> say;  // one line of progress text (stdout when empty)
};

AgeStudyResult run_age_study(const AgeStudyConfig& config, const nlohmann::json& config_json, const AgeStudyOptions& options);

// table3.md from a result: the Table III layout and the t-tests.
std::string age_table(const AgeStudyResult& r, const AgeStudyConfig& config);

}  // namespace mdcsrn
