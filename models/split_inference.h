#pragma once
// Inference over a dataset: every subject of a manifest's split super-resolved to one volume
// each, spread over the ranks of a data-parallel run, named so that mdcsrn eval --manifest reads
// them (--method NAME=DIR/{id}_sr.nii.gz).
#include <string>
#include <vector>

#include "engine/communicator.h"
#include "io/manifest.h"
#include "models/inference.h"

namespace mdcsrn {

// Where a subject's SR volume goes.
std::string split_output_path(const std::string& out_dir, const std::string& id);

// Refuses, naming the file or split, a split without subjects or an LR volume whose header is
// unreadable (or, uncompressed, shorter than its voxels): before anything is written.
void check_split_inputs(const Manifest& manifest, const std::string& split);

// Subject k of the split on rank k mod N (the inputs checked first), each volume as mdcsrn infer
// writes one (float32 on the LR's grid); they replace earlier volumes of the same names only once
// every rank has finished its share. Returns the paths this rank wrote, after every rank has
// finished (so rank 0 may then report the whole split). `arithmetic` as super_resolve's.
std::vector<std::string> super_resolve_split(const Manifest& manifest, const std::string& split, const GeneratorConfig& model,
                                             const GeneratorState& state, const InferenceOptions& o, const std::string& out_dir,
                                             CudaContext* ctx, const Communicator& comm, bool progress, std::string* arithmetic = nullptr);

}  // namespace mdcsrn
