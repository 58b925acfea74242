#pragma once
// The training set as the sampler sees it: each subject's volumes cropped to what patches can
// reach, stored in fp16 on the device that trains (or the host), with the tables of admissible
// patch centres for each sampling mode.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/node_shared_memory.h"
#include "io/manifest.h"
#include "io/masks.h"
#include "kernels/patch_sampler.h"

namespace mdcsrn {

class CudaContext;

struct SamplerSubject {
  std::string id;
  std::array<int64_t, 3> dims{};
  std::vector<float> hr, lr;
  Mask brain, cerebellum;
  Region region;               // the part of the volume this split may use
  std::vector<float> weight;  // per-voxel weight (weighted mode)
};

struct SamplerConfig {
  SamplingMode mode = SamplingMode::Uniform;
  int patch = 32;
  // Centres whose patch overlaps the brain, keeping those with at least this fraction of brain
  // voxels; 0 keeps every overlapping patch (the authors' code kept all tiles).
  double min_brain_fraction = 0.0;
  double cerebellum_fraction = 0.5;  // balanced mode: share of each epoch drawn from the cerebellum
  int candidate_stride = 1;          // centres on a lattice of this step
  // 0: the number of non-overlapping patch tiles of the split that overlap the brain, as many as
  // the authors' tiling gives.
  int64_t patches_per_epoch = 0;
  uint64_t seed = 0;
};

// Where a GPU dataset keeps its volumes and centre tables (`data.residence`): in device memory; in
// pinned host memory that the sampler's kernel reads over the bus, so that device memory does not
// grow with the number of subjects; or on the device when they take at most half of its free
// memory, else on the host.
enum class Residence { Device, Host, Auto };
Residence parse_residence(const std::string& name);  // "device", "host" or "auto"
const char* residence_name(Residence r);

// Subjects a dataset works on at once, at most: reading their volumes, tables and crops, one a CPU
// thread (on a 16-core node, ~0.6 GB of HCP volumes and tables each, ~10 GB in flight).
constexpr int kMaxSubjectsAtOnce = 16;

class PatchDataset {
 public:
  // where: Host (the CPU samples) or Device (the GPU samples, from memory chosen by residence).
  PatchDataset(std::vector<SamplerSubject> subjects, const SamplerConfig& config, MemoryKind where, Residence residence = Residence::Device);
  // Subjects 0 .. count - 1 from subject(n), each dropped once its crop and centres are taken,
  // on its own thread, up to one a CPU thread and at most kMaxSubjectsAtOnce at once (subject must
  // be safe to call concurrently for different n); the same dataset whatever the number of threads. With `ranks` of an MPI run
  // (collective over them), only the first rank of each node reads the subjects, into host memory
  // that the node's ranks share (engine/node_shared_memory.h): the CPU reads it there, a GPU over
  // the bus (residence host) or from its own copy (residence device).
  PatchDataset(int64_t count, const std::function<SamplerSubject(int64_t)>& subject, const SamplerConfig& config, MemoryKind where,
               Residence residence = Residence::Device, const Communicator* ranks = nullptr);

  // Patches first_patch .. first_patch + batch - 1 (numbered across the whole run) into lr, hr
  // ([batch, 1, p, p, p]) and centres ([batch, kCentreFields]), in host memory for a Host
  // dataset and device memory for a Device one (whatever its residence).
  // GPU datasets need ctx; the work is queued on its stream.
  void sample(int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres, CudaContext* ctx) const;
  // The same on a GPU dataset with first_patch read from device memory (a step graph's schedule).
  void sample_at(const int64_t* first_patch, int batch, float* lr, float* hr, int32_t* centres, CudaContext& ctx) const;

  const SamplerView& view() const { return view_; }
  const SamplerConfig& config() const { return config_; }
  int64_t epoch_size() const { return view_.epoch_size; }
  // Patches per epoch (e.g. rounded to whole batches by the trainer).
  void set_epoch_size(int64_t patches) { view_.epoch_size = patches; }
  int64_t brain_candidates() const { return brain_total_; }
  int64_t cerebellum_candidates() const { return cerebellum_total_; }
  size_t resident_bytes() const { return resident_bytes_; }
  // The memory the volumes and tables are in: Host, Device, or Pinned (a Device dataset on the host).
  MemoryKind memory() const { return memory_; }
  // Whether they are (or were uploaded from) the node's one host copy, shared with other ranks.
  bool node_shared() const { return shared_ && shared_->shared(); }
  const std::vector<std::string>& subject_ids() const { return ids_; }

 private:
  SamplerConfig config_;
  MemoryKind where_, memory_;
  std::vector<std::string> ids_;
  std::shared_ptr<NodeSharedMemory> shared_;  // the node's host copy, when the ranks share one
  Buffer<unsigned char> arena_;               // this process's copy, unless it reads shared_ in place
  std::shared_ptr<void> registration_;        // shared_ or arena_ pinned for this rank's GPU (released first)
  SamplerView view_;
  int64_t brain_total_ = 0, cerebellum_total_ = 0;
  size_t resident_bytes_ = 0;
};

// Reads the subjects of one split of a manifest (their volumes, masks and regions); with weights,
// the per-voxel weight map too (the manifest subject's hf_weight.nii.gz beside its HR, unless
// weight_map names another file name).
std::vector<SamplerSubject> load_split(const Manifest& manifest, const std::string& split, bool with_weights,
                                       const std::string& weight_map = "hf_weight.nii.gz");

// The subject `member` of one split (its place among the split's subjects): its volumes, masks,
// region and, with weights, its weight map (as load_split reads them).
SamplerSubject load_split_subject(const Manifest& manifest, const std::string& split, int64_t member, bool with_weights,
                                  const std::string& weight_map = "hf_weight.nii.gz");

// The dataset of one split, its subjects read and taken apart a few at a time (one a CPU thread,
// at most kMaxSubjectsAtOnce): what training uses, so that its host memory does not hold every
// subject's full-precision volumes at once (the weight maps read for weighted sampling).
PatchDataset load_split_dataset(const Manifest& manifest, const std::string& split, const SamplerConfig& config, MemoryKind where,
                                Residence residence = Residence::Device, const Communicator* ranks = nullptr,
                                const std::string& weight_map = "hf_weight.nii.gz");

// Per-centre brain-voxel counts of the patch [c - p/2, c + p/2) in each axis (clipped to the
// volume): three separable running sums.
std::vector<int32_t> patch_box_counts(const Mask& mask, const std::array<int64_t, 3>& dims, int patch);

}  // namespace mdcsrn
