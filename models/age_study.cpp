#include "models/age_study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/device.h"
#include "engine/error.h"
#include "io/csv.h"
#include "io/figure.h"
#include "io/manifest.h"
#include "io/nibabel_order.h"
#include "io/progress.h"
#include "io/safetensors.h"
#include "io/subject_table.h"
#include "io/volume.h"
#include "kernels/metrics.h"
#include "models/json_config.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn {

using nlohmann::json;
namespace fs = std::filesystem;

json default_age_config() {
  const AgeRegressorConfig m = AgeRegressorConfig::densenet121();
  return json{{"data", {{"subjects", ""}, {"sets", json::array()}, {"hcp_ages", ""}, {"exclude_manifest", ""}}},
              {"grid", {{"spacing", 2.0}, {"size", {96, 112, 96}}}},
              {"model", {{"features", m.features}, {"growth", m.growth}, {"bottleneck", m.bottleneck}, {"blocks", m.blocks}}},
              {"train", {{"folds", 5}, {"epochs", 40}, {"batch", 4}, {"lr", 1e-3}, {"loss", "l1"}, {"seed", 0}, {"device", "auto"}}},
              {"output", {{"dir", "runs/age"}}}};
}

json merge_age_config(const std::string& file, const std::vector<std::string>& overrides) {
  return merge_config(default_age_config(), file, overrides);
}

namespace {

// A setting of the expected JSON type, or a one-line error naming its key.
template <class T>
T setting(const json& j, const std::string& section, const std::string& key) {
  const json& v = j.at(section).at(key);
  try {
    return v.get<T>();
  } catch (const std::exception&) {
    fail(section + "." + key + ": unexpected value " + v.dump());
  }
}

}  // namespace

AgeStudyConfig parse_age_config(const json& j) {
  AgeStudyConfig c;
  c.subjects = setting<std::string>(j, "data", "subjects");
  c.sets = setting<std::vector<std::string>>(j, "data", "sets");
  c.hcp_ages = setting<std::string>(j, "data", "hcp_ages");
  c.exclude_manifest = setting<std::string>(j, "data", "exclude_manifest");
  c.grid.spacing = setting<double>(j, "grid", "spacing");
  const std::vector<int64_t> size = setting<std::vector<int64_t>>(j, "grid", "size");
  if (size.size() != 3 || size[0] < 1 || size[1] < 1 || size[2] < 1)
    fail_setting("grid.size", size, "must be three positive voxel counts, e.g. [96, 112, 96]");
  if (!(c.grid.spacing > 0)) fail_setting("grid.spacing", c.grid.spacing, "must be positive (mm), e.g. 2");
  c.grid.size = {size[0], size[1], size[2]};
  AgeRegressorConfig& m = c.training.model;
  m.features = setting<int>(j, "model", "features");
  m.growth = setting<int>(j, "model", "growth");
  m.bottleneck = setting<int>(j, "model", "bottleneck");
  m.blocks = setting<std::vector<int>>(j, "model", "blocks");
  c.folds = setting<int>(j, "train", "folds");
  if (c.folds < 2) fail_setting("train.folds", c.folds, "cross-validation needs at least 2 folds, e.g. 5");
  c.training.epochs = setting<int>(j, "train", "epochs");
  c.training.batch = setting<int>(j, "train", "batch");
  if (c.training.epochs < 1) fail_setting("train.epochs", c.training.epochs, "must be a positive integer, e.g. 40");
  if (c.training.batch < 1) fail_setting("train.batch", c.training.batch, "must be a positive integer, e.g. 4");
  c.training.adam.lr = setting<float>(j, "train", "lr");
  if (!(c.training.adam.lr > 0)) fail_setting("train.lr", c.training.adam.lr, "must be positive, e.g. 0.001");
  const std::string loss = setting<std::string>(j, "train", "loss");
  if (loss != "l1" && loss != "mse") fail("train.loss: expected l1 or mse, got '" + loss + "'");
  c.training.loss = loss == "l1" ? LossKind::L1 : LossKind::L2;
  c.training.seed = setting<uint64_t>(j, "train", "seed");
  c.device = setting<std::string>(j, "train", "device");
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda") fail("train.device: expected auto, cpu or cuda, got '" + c.device + "'");
  c.out_dir = setting<std::string>(j, "output", "dir");
  age_block_shapes(AgeRegressorLayout{m}, Shape5{1, 1, size[2], size[1], size[0]});  // the model's settings, and its fit on the grid
  return c;
}

namespace {

std::string fold_name(const std::string& set, int fold) { return set + "_fold" + std::to_string(fold + 1); }

// Every image set's name must make a file name.
void check_set_names(const std::vector<std::string>& sets) {
  for (const std::string& s : sets)
    if (s.empty() || s.find_first_of("/\\:*?\"<>| ") != std::string::npos)
      fail("image set '" + s + "': a column name used in file names must not contain spaces or / \\ : * ? \" < > |");
}

// The subjects of a manifest's train and val splits: the ones its SR models trained on.
std::vector<std::string> trained_subjects(const std::string& manifest_path) {
  const Manifest m = Manifest::load(manifest_path);
  std::vector<std::string> ids;
  for (const char* split : {"train", "val"})
    for (const auto& [index, region] : m.split(split)) ids.push_back(m.subjects[size_t(index)].id);
  return ids;
}

// A finished fold's predictions (id -> predicted age), or empty when there is none.
std::vector<std::pair<std::string, double>> read_fold(const std::string& path) {
  std::vector<std::pair<std::string, double>> out;
  if (!fs::exists(path)) return out;
  const CsvTable t = read_csv(path);
  const int id = t.column("id"), predicted = t.column("predicted_age");
  if (id < 0 || predicted < 0) fail(path + ": not a fold's predictions (columns id, predicted_age)");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& text = t.rows[r][size_t(predicted)];
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value)) fail(t.where(r) + ": predicted age '" + text + "' is not a number");
    out.emplace_back(t.rows[r][size_t(id)], value);
  }
  return out;
}

template <class Backend>
AgeFit fit_on(Backend backend, const AgeStudyConfig& c, const AgeTrainingData& data, const std::string& label, bool progress) {
  std::unique_ptr<ProgressBar> bar;
  if (progress) bar = std::make_unique<ProgressBar>(label, c.training.epochs, "epochs");
  double last = 0;
  AgeFit fit = train_age_regressor(backend, c.training, data, [&](int epoch, double loss) {
    last = loss;
    if (bar) bar->update(epoch, "loss " + std::to_string(loss));
  });
  if (bar) bar->finish("loss " + std::to_string(last));
  return fit;
}

// Full precision: a reader standardising the regressor's output needs them exactly.
std::string exact(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

void save_fold_model(const std::string& path, const AgeRegressorLayout& layout, const AgeFit& fit, const AgeStudyConfig& c,
                     const json& config_json) {
  SafeTensors st;
  for (const ParamEntry& e : layout.table().entries()) add_f32_in_nibabel_order(st, e.name, e.shape, fit.params.data() + e.offset);
  for (const NormLayer* n : layout.norms()) {
    st.add_f32(n->name + ".running_mean", {n->channels}, fit.running.data() + n->stats_offset);
    st.add_f32(n->name + ".running_var", {n->channels}, fit.running.data() + layout.norm_channels() + n->stats_offset);
    st.add_i64(n->name + ".num_batches_tracked", {}, &fit.steps);
  }
  // Files without a format (before 2026-12-04) hold the kernels in the engine's (z, y, x) order.
  st.set_metadata("format", "mdcsrn-age-regressor-2");
  st.set_metadata("spatial_axes", "x,y,z: nibabel's array order, the last three axes of every conv kernel");
  st.set_metadata("model", c.training.model.describe());
  st.set_metadata("config", config_json.dump());
  st.set_metadata("grid", c.grid.describe());
  st.set_metadata("age_mean", exact(fit.age_mean));
  st.set_metadata("age_scale", exact(fit.age_scale));
  st.save(path);
}

std::string fixed(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

}  // namespace

std::string age_table(const AgeStudyResult& r, const AgeStudyConfig& c) {
  std::ostringstream md;
  md << "| image set | MAE (years), mean +- std over " << c.folds << " folds | MAE over all " << r.ids.size() << " subjects |\n";
  md << "| --- | --- | --- |\n";
  for (const AgeSetResult& s : r.sets) {
    double mean = 0, var = 0;
    for (double m : s.fold_mae) mean += m / double(s.fold_mae.size());
    for (double m : s.fold_mae) var += (m - mean) * (m - mean) / double(s.fold_mae.size() - 1);
    md << "| " << s.set << " | " << fixed(mean, 2) << " +- " << fixed(std::sqrt(var), 2) << " | " << fixed(s.mae, 2) << " |\n";
  }
  if (r.sets.size() > 1) {
    md << "\nPaired t-tests on the per-subject absolute errors (two-sided p; a row's set against a column's):\n\n|  |";
    for (const AgeSetResult& s : r.sets) md << " " << s.set << " |";
    md << "\n| --- |";
    for (size_t i = 0; i < r.sets.size(); ++i) md << " --- |";
    md << "\n";
    std::vector<std::vector<double>> errors;
    for (const AgeSetResult& s : r.sets) {
      std::vector<double> e;
      for (size_t i = 0; i < r.ages.size(); ++i) e.push_back(std::fabs(s.predicted[i] - r.ages[i]));
      errors.push_back(e);
    }
    for (size_t a = 0; a < r.sets.size(); ++a) {
      md << "| " << r.sets[a].set << " |";
      for (size_t b = 0; b < r.sets.size(); ++b) {
        const double p = a == b ? NAN : paired_t_test(errors[a], errors[b]);
        char text[32];
        std::snprintf(text, sizeof text, "%.3g", p);
        md << " " << (std::isnan(p) ? std::string("-") : std::string(text)) << " |";
      }
      md << "\n";
    }
  }
  return md.str();
}

AgeStudyResult run_age_study(const AgeStudyConfig& c, const json& config_json, const AgeStudyOptions& o) {
  auto say = [&](const std::string& line) {
    if (o.say)
      o.say(line);
    else
      std::printf("%s\n", line.c_str());
  };
  if (c.subjects.empty()) fail("data.subjects: no subject table given (--subjects FILE)");
  SubjectTable table = read_subject_table(c.subjects, c.sets, c.hcp_ages.empty());
  if (!c.hcp_ages.empty()) read_hcp_ages(table, c.hcp_ages);
  check_set_names(table.sets);
  AgeStudyResult r;
  if (!c.exclude_manifest.empty()) r.excluded = exclude_subjects(table, trained_subjects(c.exclude_manifest));
  const int n = int(table.subjects.size());
  if (n < c.folds) fail(c.subjects + ": " + std::to_string(n) + " subjects left cannot fill train.folds = " + std::to_string(c.folds));
  const int fewest_training = n - (n + c.folds - 1) / c.folds;  // beside the largest held-out fold
  if (fewest_training < 2)
    fail(c.subjects + ": " + std::to_string(n) + " subjects in " + std::to_string(c.folds) + " folds leave " + std::to_string(fewest_training) +
         " to train on beside a held-out fold; at least 2 are needed (more subjects, or fewer train.folds)");
  // Every image's header (readable, one 3-D volume, an invertible affine; an uncompressed file's
  // length) before anything is written: a bad file found hours into a study would be late.
  for (const AgeSubject& s : table.subjects)
    for (const std::string& image : s.images) check_age_geometry(read_volume_header(image));
  r.ages_source = table.ages;
  for (const AgeSubject& s : table.subjects) {
    r.ids.push_back(s.id);
    r.ages.push_back(s.age);
  }
  r.folds = assign_folds(n, c.folds, c.training.seed);

  const bool cuda = c.device == "cuda" || (c.device == "auto" && cuda_device_count() > 0);
#ifndef MDCSRN_HAVE_CUDA
  if (cuda) fail("train.device cuda: this build has no CUDA backend");
#endif
  r.device = describe_device(cuda ? DeviceKind::Cuda : DeviceKind::Cpu);

  // The output folder: a resumed run must have been made with the same settings.
  const fs::path out(c.out_dir);
  const fs::path saved_config = out / "config.json";
  if (o.resume) {
    if (!fs::exists(saved_config)) fail(saved_config.string() + ": nothing to resume (no config.json)");
    std::ifstream in(saved_config);
    json before;
    try {
      before = json::parse(in);
    } catch (const std::exception&) {
      fail(saved_config.string() + ": not valid JSON");
    }
    json now = config_json, then = before;
    now["output"].erase("dir");
    then["output"].erase("dir");
    if (now != then) fail(saved_config.string() + ": the finished folds were made with other settings; resume with the same ones");
  } else if (fs::exists(out / "folds") || fs::exists(saved_config)) {
    if (!o.overwrite)
      fail(c.out_dir + ": holds a previous study; --resume continues it, --overwrite starts over (removing its files), or choose another --out");
    for (const char* name : {"folds", "models", "config.json", "folds.csv", "predictions.csv", "table3.md", "scatter.png", "scatter.pdf"})
      fs::remove_all(out / name);
  }
  fs::create_directories(out / "folds");
  fs::create_directories(out / "models");
  write_text_atomically(saved_config.string(), config_json.dump(2) + "\n");
  {
    std::string csv = "id,age,fold\n";
    for (int s = 0; s < n; ++s) csv += csv_field(r.ids[size_t(s)]) + "," + fixed(r.ages[size_t(s)], 2) + "," + std::to_string(r.folds[size_t(s)] + 1) + "\n";
    write_text_atomically((out / "folds.csv").string(), csv);
  }
  say("age: " + std::to_string(n) + " subjects (" + (r.excluded ? std::to_string(r.excluded) + " left out as SR training subjects, " : std::string()) +
      "ages from " + r.ages_source + "), " + std::to_string(c.folds) + "-fold cross-validation, the same folds for every set");
  say("age: " + c.training.model.describe() + " (" + std::to_string(AgeRegressorLayout(c.training.model).table().parameter_count()) +
      " parameters) on " + c.grid.describe() + ", " + std::to_string(c.training.epochs) + " epochs of batch " +
      std::to_string(c.training.batch) + ", on " + r.device);

  const AgeRegressorLayout layout(c.training.model);
#ifdef MDCSRN_HAVE_CUDA
  std::unique_ptr<CudaContext> ctx;
  if (cuda) ctx = std::make_unique<CudaContext>(0);
#endif
  for (size_t k = 0; k < table.sets.size(); ++k) {
    const std::string& set = table.sets[k];
    AgeSetResult result;
    result.set = set;
    result.predicted.assign(size_t(n), NAN);
    std::vector<std::vector<float>> inputs;  // read on the first fold that needs them
    auto load_inputs = [&] {
      if (!inputs.empty()) return;
      std::unique_ptr<ProgressBar> bar;
      if (o.progress) bar = std::make_unique<ProgressBar>(set + ": resampling", n, "volumes");
      for (int s = 0; s < n; ++s) {
        inputs.push_back(resample_for_age(read_volume(table.subjects[size_t(s)].images[k]), c.grid));
        if (bar) bar->update(s + 1, "");
      }
      if (bar) bar->finish("");
    };
    for (int f = 0; f < c.folds; ++f) {
      const std::string fold_csv = (out / "folds" / (fold_name(set, f) + ".csv")).string();
      std::vector<std::pair<std::string, double>> done = o.resume ? read_fold(fold_csv) : std::vector<std::pair<std::string, double>>{};
      if (done.empty()) {
        load_inputs();
        AgeTrainingData data;
        data.grid = c.grid.size;
        std::vector<int> test;
        for (int s = 0; s < n; ++s) {
          if (r.folds[size_t(s)] == f) {
            data.test.push_back(&inputs[size_t(s)]);
            test.push_back(s);
          } else {
            data.train.push_back(&inputs[size_t(s)]);
            data.train_ages.push_back(r.ages[size_t(s)]);
          }
        }
        const std::string label = set + " fold " + std::to_string(f + 1) + "/" + std::to_string(c.folds);
        AgeFit fit;
#ifdef MDCSRN_HAVE_CUDA
        if (cuda)
          fit = fit_on(GpuBackend{ctx.get()}, c, data, label, o.progress);
        else
#endif
          fit = fit_on(CpuBackend<float>{}, c, data, label, o.progress);
        save_fold_model((out / "models" / (fold_name(set, f) + ".safetensors")).string(), layout, fit, c, config_json);
        std::string csv = "id,age,predicted_age\n";
        for (size_t t = 0; t < test.size(); ++t) {
          csv += csv_field(r.ids[size_t(test[t])]) + "," + fixed(r.ages[size_t(test[t])], 2) + "," + fixed(fit.predictions[t], 4) + "\n";
          done.emplace_back(r.ids[size_t(test[t])], fit.predictions[t]);
        }
        write_text_atomically(fold_csv, csv);
      } else {
        say("age: " + fold_name(set, f) + " finished before, kept (" + fold_csv + ")");
      }
      double error = 0;
      int count = 0;
      for (const auto& [id, predicted] : done) {
        const auto at = std::find(r.ids.begin(), r.ids.end(), id);
        if (at == r.ids.end() || r.folds[size_t(at - r.ids.begin())] != f) fail(fold_csv + ": subject " + id + " is not in this fold");
        result.predicted[size_t(at - r.ids.begin())] = predicted;
        error += std::fabs(predicted - r.ages[size_t(at - r.ids.begin())]);
        ++count;
      }
      const int64_t expected = std::count(r.folds.begin(), r.folds.end(), f);
      if (count != expected) fail(fold_csv + ": " + std::to_string(count) + " predictions for the fold's " + std::to_string(expected) + " subjects");
      result.fold_mae.push_back(error / count);
    }
    for (int s = 0; s < n; ++s) result.mae += std::fabs(result.predicted[size_t(s)] - r.ages[size_t(s)]) / n;
    say("age: " + set + ": MAE " + fixed(result.mae, 2) + " years");
    r.sets.push_back(std::move(result));
  }

  // predictions.csv, table3.md, scatter.png and scatter.pdf (no scatter plot in a build without cairo).
  std::string csv = "id,age,fold";
  for (const AgeSetResult& s : r.sets) csv += "," + csv_field(s.set);
  csv += "\n";
  for (int s = 0; s < n; ++s) {
    csv += csv_field(r.ids[size_t(s)]) + "," + fixed(r.ages[size_t(s)], 2) + "," + std::to_string(r.folds[size_t(s)] + 1);
    for (const AgeSetResult& set : r.sets) csv += "," + fixed(set.predicted[size_t(s)], 4);
    csv += "\n";
  }
  write_text_atomically((out / "predictions.csv").string(), csv);
  r.table = age_table(r, c);
  write_text_atomically((out / "table3.md").string(), "# Brain age: " + std::to_string(n) + " subjects, " + std::to_string(c.folds) +
                                                          "-fold cross-validation\n\nAges: " + r.ages_source + ".\n\n" + r.table);
  const std::vector<Rgb> colors{{0, 0, 0}, {200, 40, 40}, {40, 90, 200}, {30, 150, 60}, {150, 60, 170}, {220, 130, 0}};
  std::vector<Series> series;
  double lo = *std::min_element(r.ages.begin(), r.ages.end()), hi = *std::max_element(r.ages.begin(), r.ages.end());
  series.push_back(Series{"predicted = true", {150, 150, 150}, {lo, hi}, {lo, hi}, true});
  for (size_t k = 0; k < r.sets.size(); ++k) {
    Series s{r.sets[k].set, colors[k % colors.size()], r.ages, r.sets[k].predicted, false};
    s.markers = true;
    series.push_back(s);
  }
  if (figures_enabled())
    line_plot("Predicted against true age (held-out folds)", "true age (years)", "predicted age (years)", series).write((out / "scatter").string());
  return r;
}

}  // namespace mdcsrn
