#pragma once
// The patch sampler (REFERENCE.md section 5): training volumes resident in memory (fp16, cropped),
// tables of admissible patch centres, and one pass that draws a batch of centres with Philox and
// gathers the LR input and HR target patches. The CPU and the GPU run the same per-patch code, so
// the same seed gives the very same batches on both.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/half.h"
#include "engine/memory.h"
#include "engine/philox.h"

namespace mdcsrn {

enum class SamplingMode { Uniform, Balanced, Weighted };
SamplingMode parse_sampling_mode(const std::string& name);  // uniform, balanced, weighted
const char* sampling_mode_name(SamplingMode m);

// Philox streams of the sampler (one seed drives them all).
constexpr uint32_t kStreamPatchDraw = 0x9a7c4;
constexpr uint32_t kStreamEpochShuffle = 0x54f1e;

// Where each gathered patch came from: written per patch as {subject, i, j, k, source}, the centre
// in the subject's full-volume voxel coordinates.
enum PatchSource : int32_t { kFromBrain = 0, kFromCerebellum = 1 };
constexpr int kCentreFields = 5;

// A list of candidate patch centres, numbered 0 .. total - 1 across the subjects, each a linear
// index within its subject's crop, kept as runs instead of one index a centre: run r holds the
// centres numbered first[r] .. first[r + 1] - 1 at start[r], start[r] + stride, start[r] + 2
// stride, ... (consecutive admissible centres along a row, and across rows where the lattice
// continues). A brain's centres make a few runs a row: kilobytes where the list took 4 bytes a
// centre (HCP at stride 1: ~100 MB a subject).
struct CentreRuns {
  const uint32_t* start = nullptr;  // [runs]
  const int64_t* first = nullptr;   // [runs + 1]; first[runs] is the number of centres
  int64_t runs = 0;
};

// Centre number g of the list (0 <= g < first[runs]): the run holding it by bisection.
MDCSRN_HD int64_t centre_at(const CentreRuns& t, int64_t stride, int64_t g) {
  int64_t lo = 0, hi = t.runs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (t.first[mid] <= g)
      lo = mid;
    else
      hi = mid - 1;
  }
  return int64_t(t.start[lo]) + (g - t.first[lo]) * stride;
}

// Everything the per-patch code reads, as plain pointers (host or device memory alike).
struct SamplerView {
  const uint16_t* lr = nullptr;  // fp16 bits: the subjects' cropped volumes, one after the other
  const uint16_t* hr = nullptr;
  const int64_t* volume_offset = nullptr;  // [subjects]: start of each crop
  const int32_t* crop = nullptr;           // [subjects * 6]: crop origin (i, j, k) and size (ni, nj, nk)
  CentreRuns brain_centres;                // candidate centres (every mode)
  const int64_t* brain_prefix = nullptr;   // [subjects + 1]: first candidate of each subject
  CentreRuns cerebellum_centres;           // balanced mode's second list
  const int64_t* cerebellum_prefix = nullptr;
  int64_t stride = 1;                        // of the centres' lattice (sampler.candidate_stride)
  const float* alias_probability = nullptr;  // weighted mode: Vose alias table over the brain centres' numbers
  const uint32_t* alias_index = nullptr;
  int subjects = 0;
  int patch = 32;
  SamplingMode mode = SamplingMode::Uniform;
  int64_t epoch_size = 0;            // patches per epoch
  double cerebellum_fraction = 0;    // balanced mode: the share of each epoch drawn from the cerebellum
  uint64_t seed = 0;
};

// floor(x * n / 2^64): an integer in [0, n), exact on both devices.
MDCSRN_HD uint64_t uniform_below64(uint64_t x, uint64_t n) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(x, n);
#else
  return uint64_t((unsigned __int128)x * n >> 64);
#endif
}

MDCSRN_HD uint64_t words64(const PhiloxWords& w, int first) { return (uint64_t(w.v[first + 1]) << 32) | w.v[first]; }

// A bijection of [0, n) chosen by (seed, epoch): a 4-round Feistel network on the smallest even
// number of bits that covers n, walked until it lands inside [0, n). Gives each epoch its own
// shuffle with no state and no memory.
MDCSRN_HD uint64_t shuffle_index(uint64_t index, uint64_t n, uint64_t seed, uint64_t epoch) {
  int bits = 2;
  while (bits < 62 && (uint64_t(1) << bits) < n) bits += 2;
  const int half = bits / 2;
  const uint64_t mask = (uint64_t(1) << half) - 1;
  uint64_t x = index;
  do {
    uint64_t left = x >> half, right = x & mask;
    for (uint32_t round = 0; round < 4; ++round) {
      const PhiloxWords w = philox4x32_10(PhiloxWords{{uint32_t(right), uint32_t(right >> 32), round, uint32_t(epoch)}},
                                          uint32_t(seed) ^ kStreamEpochShuffle, uint32_t(seed >> 32) ^ uint32_t(epoch >> 32));
      const uint64_t next = left ^ (words64(w, 0) & mask);
      left = right;
      right = next;
    }
    x = (left << half) | right;
  } while (x >= n);
  return x;
}

// Subject s such that prefix[s] <= g < prefix[s + 1].
MDCSRN_HD int subject_of(const int64_t* prefix, int subjects, int64_t g) {
  int lo = 0, hi = subjects - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (prefix[mid] <= g)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

struct DrawnCentre {
  int subject;
  int64_t local;  // linear index within the subject's crop
  int32_t source;
};

// The centre of global patch number p (patches are numbered across batches and epochs).
MDCSRN_HD DrawnCentre draw_centre(const SamplerView& v, int64_t p) {
  const PhiloxWords w = philox_draw(v.seed, kStreamPatchDraw, uint64_t(p));
  bool from_cerebellum = false;
  if (v.mode == SamplingMode::Balanced) {
    const int64_t epoch = p / v.epoch_size, within = p % v.epoch_size;
    // Epoch e takes floor((e + 1) f E) - floor(e f E) cerebellum patches: the share of every run
    // of whole epochs is f up to one patch.
    const double per_epoch = v.cerebellum_fraction * double(v.epoch_size);
    const int64_t quota = int64_t(floor(double(epoch + 1) * per_epoch)) - int64_t(floor(double(epoch) * per_epoch));
    from_cerebellum = int64_t(shuffle_index(uint64_t(within), uint64_t(v.epoch_size), v.seed, uint64_t(epoch))) < quota;
  }
  const int64_t* prefix = from_cerebellum ? v.cerebellum_prefix : v.brain_prefix;
  const CentreRuns& centres = from_cerebellum ? v.cerebellum_centres : v.brain_centres;
  int64_t g;
  if (v.mode == SamplingMode::Weighted) {
    const uint64_t slot = uniform_below64(words64(w, 0), uint64_t(v.brain_prefix[v.subjects]));
    g = uniform_open01(w.v[2]) < v.alias_probability[slot] ? int64_t(slot) : int64_t(v.alias_index[slot]);
  } else {
    g = int64_t(uniform_below64(words64(w, 0), uint64_t(prefix[v.subjects])));
  }
  const int s = subject_of(prefix, v.subjects, g);
  return DrawnCentre{s, centre_at(centres, v.stride, g), from_cerebellum ? kFromCerebellum : kFromBrain};
}

// The centre's record: subject, full-volume voxel (i, j, k), and where it was drawn from.
MDCSRN_HD void write_centre(const SamplerView& v, const DrawnCentre& c, int32_t* out) {
  const int32_t* crop = v.crop + 6 * c.subject;
  const int64_t ni = crop[3], nj = crop[4];
  out[0] = c.subject;
  out[1] = int32_t(crop[0] + c.local % ni);
  out[2] = int32_t(crop[1] + c.local / ni % nj);
  out[3] = int32_t(crop[2] + c.local / (ni * nj));
  out[4] = c.source;
}

// Where a drawn patch lies in its subject's resident crop: computed once per patch, so that the
// per-voxel gather below needs no division.
struct PatchWindow {
  int64_t volume_offset;
  int32_t ni, nj, nk;  // crop extents
  int32_t i0, j0, k0;  // the patch's first voxel in crop coordinates (may be negative)
};

MDCSRN_HD PatchWindow patch_window(const SamplerView& v, const DrawnCentre& c) {
  const int32_t* crop = v.crop + 6 * c.subject;
  const int64_t ni = crop[3], nj = crop[4];
  const int32_t half = v.patch / 2;
  return PatchWindow{v.volume_offset[c.subject], crop[3], crop[4], crop[5], int32_t(c.local % ni) - half,
                     int32_t(c.local / ni % nj) - half, int32_t(c.local / (ni * nj)) - half};
}

// Voxel (i, j, k) of the patch, i fastest (the patch's (d, h, w) = (k, j, i)).
MDCSRN_HD void gather_voxel(const SamplerView& v, const PatchWindow& w, int32_t i, int32_t j, int32_t k, float& lr, float& hr) {
  const int32_t ci = w.i0 + i, cj = w.j0 + j, ck = w.k0 + k;
  if (ci < 0 || cj < 0 || ck < 0 || ci >= w.ni || cj >= w.nj || ck >= w.nk) {
    lr = hr = 0.f;  // outside the volume: zero padding (the crop keeps every voxel a patch can reach inside it)
    return;
  }
  const int64_t at = w.volume_offset + ci + int64_t(w.ni) * (cj + int64_t(w.nj) * ck);
  lr = half_to_float(v.lr[at]);
  hr = half_to_float(v.hr[at]);
}

}  // namespace mdcsrn

namespace mdcsrn {

// The runs (CentreRuns) of a list of centres in increasing order, `stride` apart where they run on:
// start[r] and first[r] for each run, then first's closing entry, the list's size. A list of
// several subjects is appended subject by subject (a run never spans two subjects), then closed.
struct CentreRunTable {
  std::vector<uint32_t> start;
  std::vector<int64_t> first;
  int64_t size = 0;  // centres appended so far
  void append(const std::vector<uint32_t>& subject_centres, int64_t stride);
  void close() { first.push_back(size); }
};

namespace cpu {
// Patches first_patch .. first_patch + batch - 1 into lr and hr ([batch, 1, p, p, p] each) and
// their centres into centres ([batch, kCentreFields]).
void gather_patches(const SamplerView& v, int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres);
}  // namespace cpu

// The GPU kernel (patch_sampler.cu), launched on a CudaContext or run by a simt::Emulator: one
// launch, a block per patch draws its centre and gathers both patches.
namespace gpu {
template <class Context>
void gather_patches(Context& ctx, const SamplerView& v, int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres);
// The same with the first patch's number read from device memory (a step graph's schedule).
template <class Context>
void gather_patches_at(Context& ctx, const SamplerView& v, const int64_t* first_patch, int batch, float* lr, float* hr, int32_t* centres);
}  // namespace gpu
}  // namespace mdcsrn
