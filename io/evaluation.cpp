#include "io/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "engine/error.h"
#include "engine/ordered_parallel.h"
#include "io/masks.h"
#include "io/volume.h"

namespace mdcsrn {
namespace {

constexpr int kMaxSubjectsEvaluatedAtOnce = 8;

std::string replace_id(std::string pattern, const std::string& id) {
  for (size_t at = pattern.find("{id}"); at != std::string::npos; at = pattern.find("{id}", at + id.size())) pattern.replace(at, 4, id);
  return pattern;
}

Mask within(const Mask& m, const Region& r, const std::array<int64_t, 3>& d) {
  Mask out(m.size());
  for (int64_t k = 0; k < d[2]; ++k)
    for (int64_t j = 0; j < d[1]; ++j)
      for (int64_t i = 0; i < d[0]; ++i) {
        const size_t v = size_t(i + d[0] * (j + d[1] * k));
        out[v] = m[v] && r.contains(i, j, k);
      }
  return out;
}

std::string mean_std(const std::vector<double>& v, int decimals) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / double(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / double(v.size() - 1)) : 0.0;
  char text[64];
  std::snprintf(text, sizeof text, "%.*f ± %.*f", decimals, mean, decimals, sd);
  return text;
}

}  // namespace

std::vector<EvaluationRow> evaluate_split(const Manifest& manifest, const std::string& split, const std::vector<Method>& methods,
                                          SsimWindow window) {
  const auto subjects = manifest.split(split);
  if (subjects.empty()) fail("eval: the manifest has no subject in split '" + split + "'");
  // Several subjects at once, one a CPU thread (a subject's metrics are mostly serial), at most
  // kMaxSubjectsEvaluatedAtOnce (each holds ~1.6 GB at HCP's grid: its volumes and SSIM's six maps
  // in double); rows in the split's order.
  std::vector<EvaluationRow> rows;
  ordered_parallel(
      int64_t(subjects.size()), std::min(cpu_threads(), kMaxSubjectsEvaluatedAtOnce),
      [&](int64_t n) {
        const auto& [index, region] = subjects[size_t(n)];
        const SubjectEntry& e = manifest.subjects[size_t(index)];
        const Volume hr = read_volume(manifest.resolve(e.hr));
        const Mask brain = within(nonzero_mask(read_volume(manifest.resolve(e.brain_mask))), region, hr.dims);
        const Mask cerebellum = within(nonzero_mask(read_volume(manifest.resolve(e.cerebellum_mask))), region, hr.dims);
        if (count(brain) == 0) fail(manifest.resolve(e.brain_mask) + ": no brain voxel inside the " + split + " region");
        std::vector<Method> all{{"LR", manifest.resolve(e.lr)}};
        all.insert(all.end(), methods.begin(), methods.end());
        std::vector<EvaluationRow> subject_rows;
        for (const Method& m : all) {
          const std::string path = replace_id(m.pattern, e.id);
          const Volume test = read_volume(path);
          require_same_grid(hr, test, path);
          const std::vector<double> ssim = ssim_map(hr.data, test.data, hr.dims, 1.0, window);
          subject_rows.push_back({e.id, m.name, "brain", region_metrics(hr.data, test.data, ssim, hr.dims, brain.data(), 1.0, window)});
          if (count(cerebellum) > 0)
            subject_rows.push_back(
                {e.id, m.name, "cerebellum", region_metrics(hr.data, test.data, ssim, hr.dims, cerebellum.data(), 1.0, window)});
        }
        return subject_rows;
      },
      [&](int64_t, std::vector<EvaluationRow> subject_rows) { rows.insert(rows.end(), subject_rows.begin(), subject_rows.end()); });
  return rows;
}

std::string evaluation_csv(const std::vector<EvaluationRow>& rows) {
  std::string out = "subject,method,region,psnr,ssim,nrmse,hf_energy,voxels\n";
  char line[256];
  for (const EvaluationRow& r : rows) {
    std::snprintf(line, sizeof line, "%s,%s,%s,%.6f,%.6f,%.6f,%.6f,%lld\n", r.subject.c_str(), r.method.c_str(), r.region.c_str(),
                  r.metrics.psnr, r.metrics.ssim, r.metrics.nrmse, r.metrics.hf_energy, (long long)r.metrics.voxels);
    out += line;
  }
  return out;
}

std::string evaluation_summary(const std::vector<EvaluationRow>& rows) {
  std::vector<std::string> methods;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<double>> values;  // (method, region, metric)
  std::set<std::string> subjects;
  for (const EvaluationRow& r : rows) {
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) methods.push_back(r.method);
    subjects.insert(r.subject);
    values[{r.method, r.region, "psnr"}].push_back(r.metrics.psnr);
    values[{r.method, r.region, "ssim"}].push_back(r.metrics.ssim);
    values[{r.method, r.region, "nrmse"}].push_back(r.metrics.nrmse);
    values[{r.method, r.region, "hf_energy"}].push_back(r.metrics.hf_energy);
  }
  std::string out = "| method | brain PSNR (dB) | brain SSIM | brain NRMSE | cerebellum PSNR (dB) | cerebellum SSIM | cerebellum NRMSE |"
                    " cerebellum HF energy |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const std::string& m : methods) {
    out += "| " + m;
    for (const char* region : {"brain", "cerebellum"}) {
      out += " | " + mean_std(values[{m, region, "psnr"}], 2);
      out += " | " + mean_std(values[{m, region, "ssim"}], 4);
      out += " | " + mean_std(values[{m, region, "nrmse"}], 4);
    }
    out += " | " + mean_std(values[{m, "cerebellum", "hf_energy"}], 3) + " |\n";
  }
  out += "\nMean ± standard deviation over " + std::to_string(subjects.size()) + " subject(s). HF energy: the high-frequency "
         "(Laplacian) energy of the volume over HR's in the region, 1 for HR; below 1 is blur, above is noise or invented "
         "detail (every region's is in the CSV).\n";
  out += "\nPaired t-tests (two-sided p-values, scipy.stats.ttest_rel semantics):\n\n| comparison | region | PSNR | SSIM | NRMSE | HF energy |\n"
         "| --- | --- | --- | --- | --- | --- |\n";
  for (size_t a = 0; a < methods.size(); ++a)
    for (size_t b = a + 1; b < methods.size(); ++b)
      for (const char* region : {"brain", "cerebellum"}) {
        out += "| " + methods[b] + " vs " + methods[a] + " | " + region;
        for (const char* metric : {"psnr", "ssim", "nrmse", "hf_energy"}) {
          const double p = paired_t_test(values[{methods[b], region, metric}], values[{methods[a], region, metric}]);
          char text[32];
          std::snprintf(text, sizeof text, "%.3g", p);
          out += std::string(" | ") + (std::isnan(p) ? "n/a" : text);
        }
        out += " |\n";
      }
  if (subjects.size() < 2) out += "\nWith one subject the t-tests are undefined (n/a).\n";
  return out;
}

}  // namespace mdcsrn
