#include "io/patch_dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "engine/ordered_parallel.h"
#include "engine/parallel.h"
#include "engine/volume_lines.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn {
namespace {

// Along `axis`, does the patch box [c - h, c + h) (clipped to the volume) stay inside the region?
bool box_inside_region(const Region& r, const std::array<int64_t, 3>& dims, const std::array<int64_t, 3>& c, int64_t h) {
  if (r.whole()) return true;
  const int64_t lo = std::max<int64_t>(0, c[size_t(r.axis)] - h);
  const int64_t hi = std::min<int64_t>(dims[size_t(r.axis)], c[size_t(r.axis)] + h);
  return lo >= r.begin && hi <= r.end;
}

// Vose's alias method: O(1) draws proportional to `weights`.
void build_alias(const std::vector<double>& weights, std::vector<float>& probability, std::vector<uint32_t>& alias) {
  const size_t n = weights.size();
  double total = 0;
  for (double w : weights) total += w;
  if (!(total > 0)) fail("weighted sampling: every admissible centre has weight 0");
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * double(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(uint32_t(i));
  }
  probability.assign(n, 1.f);
  alias.resize(n);
  for (size_t i = 0; i < n; ++i) alias[i] = uint32_t(i);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), l = large.back();
    small.pop_back();
    probability[s] = float(scaled[s]);
    alias[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
}

// The arrays the sampler reads, laid out one after another in one allocation (the arena), in this
// order, each 256-byte aligned.
enum ArenaArray { kLr, kHr, kVolumeOffset, kCrop, kBrainRunStart, kBrainRunFirst, kBrainPrefix, kCerebellumRunStart, kCerebellumRunFirst,
                  kCerebellumPrefix, kAliasProbability, kAliasIndex, kArrays };
constexpr size_t kElementBytes[kArrays] = {2, 2, 8, 4, 4, 8, 8, 4, 8, 8, 4, 4};

struct ArenaLayout {
  std::array<int64_t, kArrays> count{};
  std::array<size_t, kArrays> offset{};
  size_t bytes = 0;
  explicit ArenaLayout(const std::array<int64_t, kArrays>& counts) : count(counts) {
    for (int i = 0; i < kArrays; ++i) {
      offset[size_t(i)] = bytes;
      bytes += (kElementBytes[i] * size_t(count[size_t(i)]) + 255) / 256 * 256;
    }
  }
  template <class T>
  const T* at(const unsigned char* base, ArenaArray a) const { return reinterpret_cast<const T*>(base + offset[size_t(a)]); }
};

// The last element of array `a` in the arena (in memory of kind `kind`).
template <class T>
T read_last(const unsigned char* base, const ArenaLayout& layout, ArenaArray a, MemoryKind kind) {
  T value{};
  raw_copy(MemoryKind::Host, &value, kind, layout.at<T>(base, a) + (layout.count[size_t(a)] - 1), sizeof(T));
  return value;
}

// What building a dataset produces in host memory: each subject's crop at its exact size, the
// centre tables and the counts the sampler's view needs.
struct DatasetArrays {
  std::vector<std::vector<uint16_t>> subject_lr, subject_hr;
  int64_t cropped_voxels = 0;
  std::vector<int64_t> volume_offset, brain_prefix{0}, cerebellum_prefix{0};
  std::vector<int32_t> crop;
  CentreRunTable brain_runs, cerebellum_runs;
  std::vector<float> alias_probability;
  std::vector<uint32_t> alias_index;
  int64_t tiles = 0;
  std::vector<std::string> ids;

  std::array<int64_t, kArrays> counts() const {
    const auto n = [](const auto& v) { return int64_t(v.size()); };
    return {cropped_voxels, cropped_voxels, n(volume_offset), n(crop), n(brain_runs.start), n(brain_runs.first), n(brain_prefix),
            n(cerebellum_runs.start), n(cerebellum_runs.first), n(cerebellum_prefix), n(alias_probability), n(alias_index)};
  }

  // Copies every array into the arena at `base` (memory of kind `kind`); each subject's crop is
  // released once copied, so that host memory, committed page by page as it is written, holds the
  // crops about once (pinned memory is committed whole: twice, briefly).
  void write(const ArenaLayout& layout, unsigned char* base, MemoryKind kind) {
    const auto put = [&](ArenaArray a, const void* data) {
      raw_copy(kind, base + layout.offset[size_t(a)], MemoryKind::Host, data, kElementBytes[a] * size_t(layout.count[size_t(a)]));
    };
    for (const auto& [a, parts] : {std::pair{kLr, &subject_lr}, std::pair{kHr, &subject_hr}}) {
      size_t at = layout.offset[size_t(a)];
      for (std::vector<uint16_t>& part : *parts) {
        raw_copy(kind, base + at, MemoryKind::Host, part.data(), sizeof(uint16_t) * part.size());
        at += sizeof(uint16_t) * part.size();
        std::vector<uint16_t>().swap(part);
      }
    }
    put(kVolumeOffset, volume_offset.data());
    put(kCrop, crop.data());
    put(kBrainRunStart, brain_runs.start.data());
    put(kBrainRunFirst, brain_runs.first.data());
    put(kBrainPrefix, brain_prefix.data());
    put(kCerebellumRunStart, cerebellum_runs.start.data());
    put(kCerebellumRunFirst, cerebellum_runs.first.data());
    put(kCerebellumPrefix, cerebellum_prefix.data());
    put(kAliasProbability, alias_probability.data());
    put(kAliasIndex, alias_index.data());
  }
};

// One subject's part of the dataset: its crop (origin and size in its volume) in fp16, its
// admissible centres in crop coordinates (and their weights in weighted mode), its patch tiles.
struct SubjectPart {
  std::string id;
  std::array<int64_t, 3> origin{}, size{};
  std::vector<uint16_t> lr, hr;
  std::vector<uint32_t> brain_centres, cerebellum_centres;
  std::vector<double> weights;
  int64_t tiles = 0;
};

SubjectPart take_part(const SamplerSubject& s, const SamplerConfig& config) {
  const int64_t h = config.patch / 2, stride = config.candidate_stride;
  const int64_t patch_voxels = int64_t(config.patch) * config.patch * config.patch;
  const int32_t min_count = std::max<int32_t>(1, int32_t(std::ceil(config.min_brain_fraction * double(patch_voxels))));
  SubjectPart part;
  part.id = s.id;
  const auto& d = s.dims;
  const std::vector<int32_t> counts = patch_box_counts(s.brain, d, config.patch);
  auto admissible = [&](int64_t i, int64_t j, int64_t k) {
    return counts[size_t(i + d[0] * (j + d[1] * k))] >= min_count && box_inside_region(s.region, d, {i, j, k}, h);
  };
  // Centres, and the box they span, in full-volume coordinates.
  std::vector<int64_t> brain_full, cerebellum_full;
  std::array<int64_t, 3> lo{d[0], d[1], d[2]}, hi{-1, -1, -1};
  for (int64_t k = 0; k < d[2]; k += stride)
    for (int64_t j = 0; j < d[1]; j += stride)
      for (int64_t i = 0; i < d[0]; i += stride) {
        if (!admissible(i, j, k)) continue;
        const int64_t v = i + d[0] * (j + d[1] * k);
        brain_full.push_back(v);
        if (s.cerebellum[size_t(v)]) cerebellum_full.push_back(v);
        lo = {std::min(lo[0], i), std::min(lo[1], j), std::min(lo[2], k)};
        hi = {std::max(hi[0], i), std::max(hi[1], j), std::max(hi[2], k)};
      }
  if (brain_full.empty()) fail("sampler: subject " + s.id + " has no admissible patch centre in its region");
  for (int64_t k = 0; k + config.patch <= d[2]; k += config.patch)
    for (int64_t j = 0; j + config.patch <= d[1]; j += config.patch)
      for (int64_t i = 0; i + config.patch <= d[0]; i += config.patch) part.tiles += admissible(i + h, j + h, k + h);

  // The crop holds every voxel a patch of these centres can reach.
  std::array<int64_t, 3>& origin = part.origin, &size = part.size;
  for (int a = 0; a < 3; ++a) {
    origin[size_t(a)] = std::max<int64_t>(0, lo[size_t(a)] - h);
    size[size_t(a)] = std::min<int64_t>(d[size_t(a)], hi[size_t(a)] + h) - origin[size_t(a)];
  }
  MDCSRN_REQUIRE(size[0] * size[1] * size[2] < (int64_t(1) << 32), "sampler: subject " + s.id + " has 2^32 or more voxels in its region, more than the sampler indexes");
  part.lr.resize(static_cast<size_t>(size[0] * size[1] * size[2]));
  part.hr.resize(part.lr.size());
  size_t at = 0;
  for (int64_t k = 0; k < size[2]; ++k)
    for (int64_t j = 0; j < size[1]; ++j)
      for (int64_t i = 0; i < size[0]; ++i, ++at) {
        const size_t v = size_t(origin[0] + i + d[0] * (origin[1] + j + d[1] * (origin[2] + k)));
        part.lr[at] = float_to_half(s.lr[v]);
        part.hr[at] = float_to_half(s.hr[v]);
      }
  auto to_crop = [&](int64_t v) {
    const int64_t i = v % d[0] - origin[0], j = v / d[0] % d[1] - origin[1], k = v / (d[0] * d[1]) - origin[2];
    return uint32_t(i + size[0] * (j + size[1] * k));
  };
  for (int64_t v : brain_full) {
    part.brain_centres.push_back(to_crop(v));
    if (config.mode == SamplingMode::Weighted) part.weights.push_back(std::max(0.0, double(s.weight.at(size_t(v)))));
  }
  for (int64_t v : cerebellum_full) part.cerebellum_centres.push_back(to_crop(v));
  return part;
}

// The dataset's arrays in host memory, built from subjects 0 .. count - 1 (see the constructor).
DatasetArrays build_arrays(int64_t count, const std::function<SamplerSubject(int64_t)>& subject, const SamplerConfig& config) {
  DatasetArrays a;
  auto& [subject_lr, subject_hr, cropped_voxels, volume_offset, brain_prefix, cerebellum_prefix, crop, brain_runs, cerebellum_runs,
         alias_probability, alias_index, tiles, ids] = a;
  std::vector<double> weights;

  // Each subject read and taken apart on its own thread (NIfTI decompression is serial within a
  // volume), one a CPU thread: the full-precision volumes of at most that many subjects are held at
  // once, whatever the split's size; appended in order, the same dataset whatever the threads.
  ordered_parallel(
      count, std::min<int64_t>(cpu_threads(), kMaxSubjectsAtOnce), [&](int64_t n) { return take_part(subject(n), config); },
      [&](int64_t, SubjectPart part) {
        ids.push_back(part.id);
        tiles += part.tiles;
        for (int axis = 0; axis < 3; ++axis) crop.push_back(int32_t(part.origin[size_t(axis)]));
        for (int axis = 0; axis < 3; ++axis) crop.push_back(int32_t(part.size[size_t(axis)]));
        volume_offset.push_back(cropped_voxels);
        cropped_voxels += int64_t(part.lr.size());
        subject_lr.push_back(std::move(part.lr));
        subject_hr.push_back(std::move(part.hr));
        weights.insert(weights.end(), part.weights.begin(), part.weights.end());
        brain_runs.append(part.brain_centres, config.candidate_stride);
        cerebellum_runs.append(part.cerebellum_centres, config.candidate_stride);
        brain_prefix.push_back(brain_runs.size);
        cerebellum_prefix.push_back(cerebellum_runs.size);
      });
  brain_runs.close();
  cerebellum_runs.close();
  if (config.mode == SamplingMode::Balanced && cerebellum_runs.size == 0)
    fail("sampler: balanced sampling needs cerebellum centres, and the split has none");
  if (config.mode == SamplingMode::Weighted) {
    MDCSRN_REQUIRE(brain_runs.size < (int64_t(1) << 32), "sampler: weighted mode supports fewer than 2^32 centres (raise candidate_stride)");
    build_alias(weights, alias_probability, alias_index);
  }

  return a;
}

}  // namespace

std::vector<int32_t> patch_box_counts(const Mask& mask, const std::array<int64_t, 3>& dims, int patch) {
  std::vector<int32_t> counts(mask.begin(), mask.end());
  const int64_t h = patch / 2;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = dims[size_t(axis)];
    const int64_t step = axis_step(axis, dims);
    const int64_t lines = int64_t(counts.size()) / n;
    parallel_for(lines, 64, [&](int64_t begin, int64_t end) {
      std::vector<int32_t> prefix(static_cast<size_t>(n + 1));
      for (int64_t line = begin; line < end; ++line) {
        const int64_t start = axis_line_start(axis, line, dims);
        for (int64_t x = 0; x < n; ++x) prefix[size_t(x + 1)] = prefix[size_t(x)] + counts[size_t(start + x * step)];
        for (int64_t x = 0; x < n; ++x) {
          const int64_t lo = std::max<int64_t>(0, x - h), hi = std::min<int64_t>(n, x - h + patch);
          counts[size_t(start + x * step)] = prefix[size_t(hi)] - prefix[size_t(lo)];
        }
      }
    });
  }
  return counts;
}

Residence parse_residence(const std::string& name) {
  if (name == "device") return Residence::Device;
  if (name == "host") return Residence::Host;
  if (name == "auto") return Residence::Auto;
  fail("data.residence: \"" + name + "\"; must be \"device\", \"host\" or \"auto\"");
}

const char* residence_name(Residence r) { return r == Residence::Device ? "device" : r == Residence::Host ? "host" : "auto"; }

PatchDataset::PatchDataset(std::vector<SamplerSubject> subjects, const SamplerConfig& config, MemoryKind where, Residence residence)
    : PatchDataset(int64_t(subjects.size()), [&subjects](int64_t n) { return std::move(subjects[size_t(n)]); }, config, where, residence) {}

PatchDataset::PatchDataset(int64_t count, const std::function<SamplerSubject(int64_t)>& subject, const SamplerConfig& config,
                           MemoryKind where, Residence residence, const Communicator* ranks)
    : config_(config), where_(where), memory_(where) {
  MDCSRN_ASSERT(where != MemoryKind::Pinned, "sampler: a dataset samples on the host or the device; its residence says where a device one lives");
  MDCSRN_REQUIRE(count > 0, "sampler: the split has no subject; the manifest must give it one (mdcsrn prepare writes train, val and test)");
  MDCSRN_REQUIRE(config.patch >= 2 && config.patch % 2 == 0, "sampler.patch: " + std::to_string(config.patch) + "; the patch size must be even and at least 2, e.g. 32");
  MDCSRN_REQUIRE(config.candidate_stride >= 1, "sampler.candidate_stride: " + std::to_string(config.candidate_stride) + "; must be a positive integer, e.g. 1");
  MDCSRN_REQUIRE(config.min_brain_fraction >= 0 && config.min_brain_fraction <= 1, "sampler.min_brain_fraction: " + std::to_string(config.min_brain_fraction) + "; must be a fraction in [0, 1]");
  MDCSRN_REQUIRE(config.cerebellum_fraction >= 0 && config.cerebellum_fraction <= 1, "sampler.cerebellum_fraction: " + std::to_string(config.cerebellum_fraction) + "; must be a fraction in [0, 1]");
  const bool sharing = ranks && ranks->distributed();
  const bool writer = !sharing || ranks->local_rank() == 0;
  DatasetArrays a;
  if (writer) a = build_arrays(count, subject, config);
  ArenaLayout layout(writer ? a.counts() : std::array<int64_t, kArrays>{});
  int64_t tiles = a.tiles;
  if (sharing) {
    // The node's first rank built the arrays; every rank of the node reads its one host copy.
    shared_ = std::make_shared<NodeSharedMemory>(*ranks, layout.bytes);
    std::array<int64_t, kArrays + 2> header{};
    std::copy(layout.count.begin(), layout.count.end(), header.begin());
    header[kArrays] = tiles;
    std::string ids;
    for (const std::string& id : a.ids) ids += id + '\n';
    header[kArrays + 1] = int64_t(ids.size());
    shared_->broadcast(header.data(), sizeof header);
    ids.resize(size_t(header[kArrays + 1]));
    shared_->broadcast(ids.data(), ids.size());
    std::array<int64_t, kArrays> counts{};
    std::copy(header.begin(), header.begin() + kArrays, counts.begin());
    layout = ArenaLayout(counts);
    tiles = header[kArrays];
    for (size_t at = 0, next; (next = ids.find('\n', at)) != std::string::npos; at = next + 1) ids_.push_back(ids.substr(at, next - at));
    if (writer) a.write(layout, shared_->data(), MemoryKind::Host);
    shared_->barrier();
  } else {
    ids_ = a.ids;
  }
  if (where == MemoryKind::Device) {
    const bool on_host = residence == Residence::Host || (residence == Residence::Auto && layout.bytes > device_memory_info().first / 2);
    memory_ = on_host ? MemoryKind::Pinned : MemoryKind::Device;
  }
  const unsigned char* base = nullptr;
  if (sharing && memory_ != MemoryKind::Device) {
    if (memory_ == MemoryKind::Pinned) registration_ = pin_host_memory(shared_->data(), layout.bytes);
    base = shared_->data();
  } else {
    // Pinned: written in pageable memory, committed page by page as each crop is copied in and
    // released, then pinned in place (pinned allocations are committed whole: the crops twice).
    const MemoryKind arena_kind = memory_ == MemoryKind::Pinned ? MemoryKind::Host : memory_;
    arena_ = Buffer<unsigned char>(arena_kind, int64_t(std::max<size_t>(layout.bytes, 1)));
    if (sharing)
      raw_copy(arena_kind, arena_.data(), MemoryKind::Host, shared_->data(), layout.bytes);
    else
      a.write(layout, arena_.data(), arena_kind);
    if (memory_ == MemoryKind::Pinned) registration_ = pin_host_memory(arena_.data(), layout.bytes);
    base = arena_.data();
  }
  resident_bytes_ = layout.bytes;
  brain_total_ = layout.count[kBrainRunFirst] > 0 ? read_last<int64_t>(base, layout, kBrainRunFirst, memory_) : 0;
  cerebellum_total_ = layout.count[kCerebellumRunFirst] > 0 ? read_last<int64_t>(base, layout, kCerebellumRunFirst, memory_) : 0;

  const int64_t stride = config.candidate_stride;
  view_.lr = layout.at<uint16_t>(base, kLr);
  view_.hr = layout.at<uint16_t>(base, kHr);
  view_.volume_offset = layout.at<int64_t>(base, kVolumeOffset);
  view_.crop = layout.at<int32_t>(base, kCrop);
  view_.brain_centres = CentreRuns{layout.at<uint32_t>(base, kBrainRunStart), layout.at<int64_t>(base, kBrainRunFirst), layout.count[kBrainRunStart]};
  view_.brain_prefix = layout.at<int64_t>(base, kBrainPrefix);
  view_.cerebellum_centres =
      CentreRuns{layout.at<uint32_t>(base, kCerebellumRunStart), layout.at<int64_t>(base, kCerebellumRunFirst), layout.count[kCerebellumRunStart]};
  view_.cerebellum_prefix = layout.at<int64_t>(base, kCerebellumPrefix);
  view_.stride = stride;
  view_.alias_probability = layout.at<float>(base, kAliasProbability);
  view_.alias_index = layout.at<uint32_t>(base, kAliasIndex);
  view_.subjects = int(count);
  view_.patch = config.patch;
  view_.mode = config.mode;
  view_.epoch_size = config.patches_per_epoch > 0 ? config.patches_per_epoch : std::max<int64_t>(tiles, 1);
  view_.cerebellum_fraction = config.mode == SamplingMode::Balanced ? config.cerebellum_fraction : 0.0;
  view_.seed = config.seed;
}

void PatchDataset::sample(int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres, CudaContext* ctx) const {
  if (where_ == MemoryKind::Host) {
    cpu::gather_patches(view_, first_patch, batch, lr, hr, centres);
    return;
  }
#ifdef MDCSRN_HAVE_CUDA
  MDCSRN_ASSERT(ctx != nullptr, "sampler: a GPU dataset needs a CUDA context");
  gpu::gather_patches(*ctx, view_, first_patch, batch, lr, hr, centres);
#else
  (void)ctx;
  fail("sampler: this build has no CUDA backend");
#endif
}

void PatchDataset::sample_at(const int64_t* first_patch, int batch, float* lr, float* hr, int32_t* centres, CudaContext& ctx) const {
  MDCSRN_ASSERT(where_ != MemoryKind::Host, "sampler: sampling at a device-held patch number needs a GPU dataset");
#ifdef MDCSRN_HAVE_CUDA
  gpu::gather_patches_at(ctx, view_, first_patch, batch, lr, hr, centres);
#else
  (void)first_patch, (void)batch, (void)lr, (void)hr, (void)centres, (void)ctx;
  fail("sampler: this build has no CUDA backend");
#endif
}

namespace {

SamplerSubject load_subject(const Manifest& manifest, const std::string& split, int64_t index, const Region& region, bool with_weights,
                            const std::string& weight_map) {
  {
    const SubjectEntry& e = manifest.subjects[size_t(index)];
    SamplerSubject s;
    s.id = e.id;
    s.region = region;
    Volume hr = read_volume(manifest.resolve(e.hr));
    const Volume lr = read_volume(manifest.resolve(e.lr));
    require_same_grid(hr, lr, manifest.resolve(e.lr));
    const Volume brain = read_volume(manifest.resolve(e.brain_mask));
    require_same_grid(hr, brain, manifest.resolve(e.brain_mask));
    const Volume cerebellum = read_volume(manifest.resolve(e.cerebellum_mask));
    require_same_grid(hr, cerebellum, manifest.resolve(e.cerebellum_mask));
    if (with_weights) {
      const std::string path = (std::filesystem::path(manifest.resolve(e.hr)).parent_path() / weight_map).string();
      const Volume w = read_volume(path);
      require_same_grid(hr, w, path);
      s.weight = w.data;
    }
    if (!region.whole() && region.end > hr.dims[size_t(region.axis)])
      fail(manifest.folder + ": the " + split + " region of " + e.id + " lies outside its volume");
    s.dims = hr.dims;
    s.brain = nonzero_mask(brain);
    s.cerebellum = nonzero_mask(cerebellum);
    if (count(s.brain) == 0) fail(manifest.resolve(e.brain_mask) + ": the brain mask is empty");
    s.hr = std::move(hr.data);
    s.lr = lr.data;
    return s;
  }
}

}  // namespace

SamplerSubject load_split_subject(const Manifest& manifest, const std::string& split, int64_t member, bool with_weights,
                                  const std::string& weight_map) {
  const auto members = manifest.split(split);
  MDCSRN_ASSERT(member >= 0 && member < int64_t(members.size()), "sampler: no such subject in the split");
  return load_subject(manifest, split, members[size_t(member)].first, members[size_t(member)].second, with_weights, weight_map);
}

std::vector<SamplerSubject> load_split(const Manifest& manifest, const std::string& split, bool with_weights,
                                       const std::string& weight_map) {
  std::vector<SamplerSubject> out;
  for (const auto& [index, region] : manifest.split(split)) out.push_back(load_subject(manifest, split, index, region, with_weights, weight_map));
  if (out.empty()) fail(manifest.folder + "/manifest.json: no subject in split '" + split + "'");
  return out;
}

PatchDataset load_split_dataset(const Manifest& manifest, const std::string& split, const SamplerConfig& config, MemoryKind where,
                                Residence residence, const Communicator* ranks, const std::string& weight_map) {
  const auto members = manifest.split(split);
  if (members.empty()) fail(manifest.folder + "/manifest.json: no subject in split '" + split + "'");
  const bool with_weights = config.mode == SamplingMode::Weighted;
  return PatchDataset(
      int64_t(members.size()),
      [&](int64_t n) { return load_subject(manifest, split, members[size_t(n)].first, members[size_t(n)].second, with_weights, weight_map); },
      config, where, residence, ranks);
}

}  // namespace mdcsrn
