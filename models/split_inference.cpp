#include "models/split_inference.h"

#include <filesystem>

#include "engine/error.h"
#include "io/progress.h"
#include "io/staged_outputs.h"
#include "io/volume.h"

namespace mdcsrn {

std::string split_output_path(const std::string& out_dir, const std::string& id) {
  return (std::filesystem::path(out_dir) / (id + "_sr.nii.gz")).string();
}

void check_split_inputs(const Manifest& manifest, const std::string& split) {
  const std::vector<std::pair<int, Region>> subjects = manifest.split(split);
  if (subjects.empty()) fail("split '" + split + "': no subject of the manifest is in it");
  for (const auto& [index, region] : subjects) read_volume_header(manifest.resolve(manifest.subjects[size_t(index)].lr));
}

std::vector<std::string> super_resolve_split(const Manifest& manifest, const std::string& split, const GeneratorConfig& model,
                                             const GeneratorState& state, const InferenceOptions& o, const std::string& out_dir,
                                             CudaContext* ctx, const Communicator& comm, bool progress, std::string* arithmetic) {
  check_split_inputs(manifest, split);
  const std::vector<std::pair<int, Region>> subjects = manifest.split(split);
  std::vector<int> mine;
  for (size_t k = size_t(comm.rank()); k < subjects.size(); k += size_t(comm.size())) mine.push_back(subjects[k].first);
  // The volumes replace earlier ones of the same names only when every rank has finished its share.
  StagedOutputs outputs;
  std::vector<std::string> written;
  ProgressBar bar(comm.size() > 1 ? "rank 0's share of " + split : split, int64_t(mine.size()), "subjects");
  for (const int index : mine) {
    const SubjectEntry& e = manifest.subjects[size_t(index)];
    const Volume lr = read_volume(manifest.resolve(e.lr));
    const std::vector<float> sr = super_resolve(model, state, lr.data, lr.dims, o, ctx, arithmetic);
    written.push_back(split_output_path(out_dir, e.id));
    write_volume(lr.like(sr), outputs.stage(written.back()), "mdcsrn infer: " + model.describe());
    if (progress) bar.update(int64_t(written.size()), e.id);
  }
  comm.barrier();
  outputs.commit();
  if (progress) bar.finish(std::to_string(written.size()) + " volumes");
  return written;
}

}  // namespace mdcsrn
