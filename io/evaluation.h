#pragma once
// Dataset-level evaluation (REFERENCE.md section 7): for every subject of a split, PSNR, SSIM,
// NRMSE and the high-frequency energy ratio (kernels/metrics.h) of the LR input and of each
// method's super-resolved volume against the HR, over the whole
// brain and over the cerebellum (each within the subject's split region); a per-subject CSV, a
// summary of mean +/- std laid out like the paper's Table II, and paired t-tests between methods.
#include <string>
#include <vector>

#include "io/manifest.h"
#include "kernels/metrics.h"

namespace mdcsrn {

struct Method {
  std::string name;
  std::string pattern;  // path of its volume; "{id}" is replaced by the subject's id
};

struct EvaluationRow {
  std::string subject, method, region;  // region: "brain" or "cerebellum"
  RegionMetrics metrics;
};

// The LR input is evaluated first, as method "LR".
std::vector<EvaluationRow> evaluate_split(const Manifest& manifest, const std::string& split, const std::vector<Method>& methods,
                                          SsimWindow window);

std::string evaluation_csv(const std::vector<EvaluationRow>& rows);
// Markdown: the summary table and the paired t-tests (p-values; n/a with fewer than 2 subjects).
std::string evaluation_summary(const std::vector<EvaluationRow>& rows);

}  // namespace mdcsrn
