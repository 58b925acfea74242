#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/ordered_parallel.h"
#include "io/prepare.h"
#include "io/volume.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp = R"(usage:
  mdcsrn prepare --preset colin27 [--out DIR] [options]
  mdcsrn prepare --hr HR.nii.gz (--cerebellum-mask M.nii.gz | --labels L.nii.gz [--cerebellum-labels SPEC])
                 [--brain-mask B.nii.gz] --out DIR [options]
  mdcsrn prepare --hcp ROOT --out DIR [--split 800/100/rest] [--seed N] [options]

Builds the training inputs on the HR grid: HR normalised by its maximum, LR by k-space truncation,
brain and cerebellum masks, a high-frequency weight map (local energy of HR - LR), a JSON sidecar
(lr.json) and a manifest (DIR/manifest.json) that assigns subjects or regions to splits.

inputs:
  --preset colin27        Colin27 at 0.5 mm (ch2better) with the AAL atlas resampled onto it, from
                          the Debian package mricron-data; one subject, split by hemisphere:
                          test = right, train = left but its lateral quarter, which is val.
                          Default --out: data/colin27
  --templates DIR         where the preset's files are (default /usr/share/mricron/templates)
  --hr FILE               a brain-extracted HR volume (one subject; split by hemisphere as above)
  --brain-mask FILE       brain mask on the HR grid (default: the non-zero voxels of --hr)
  --cerebellum-mask FILE  binary cerebellum mask on the HR grid, or
  --labels FILE           a label volume on the HR grid, with
  --cerebellum-labels S   aseg (7,8,46,47; FreeSurfer, FastSurfer, HCP aparc+aseg), aal (91-116,
                          interior holes filled) or a comma-separated list (default aseg)
  --hcp ROOT              HCP layout: ROOT/<subject>/T1w/T1w_acpc_dc_restore_brain.nii.gz and
                          ROOT/<subject>/T1w/aparc+aseg.nii.gz; subjects split by --split,
                          prepared several at once (one a CPU thread, at most 16)
  --split SPEC            train/val/test subject counts or fractions, one may be 'rest'
                          (default 800/100/rest)
  --seed N                seed of the subject split (default 0)
  --id NAME               subject name for --hr (default: the file name)

synthesis:
  --scale S               keep the central 1/S of k-space along each truncated axis (default 4)
  --axes A,B              the truncated (phase-encoding) NIfTI axes, 0-2 (default 1,2)
  --window W              none, hamming or tukey over the kept band (default none)
  --renormalize-lr        divide LR by its own maximum, as the authors' code does (default off)
  --weight-window N       cube side for the high-frequency weight map (default 7)
  --device D              auto, cpu (FFTW) or cuda (cuFFT) (default auto)
  --out DIR               output folder; one that holds a prepared dataset (manifest.json) is
                          refused unless
  --overwrite             prepares it again: its manifest.json is removed first, then every file
                          is replaced as the new one is written
A refused or failed run into a new folder leaves nothing behind.
)";

// Subjects prepared at once, at most: each holds ~0.5 GB at HCP's grid (its volumes, weight map
// and the FFT's complex buffer) while it is prepared, ~8 GB at 16.
constexpr int kMaxSubjectsPreparedAtOnce = 16;

struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

// Removes the output folder when the command stops with an error, if this run created it, so that a
// refused input leaves nothing behind; a folder that existed before is left as it was.
class RemoveUnlessFinished {
 public:
  explicit RemoveUnlessFinished(fs::path folder) : folder_(std::move(folder)), existed_(fs::exists(folder_)) {}
  RemoveUnlessFinished(const RemoveUnlessFinished&) = delete;
  RemoveUnlessFinished& operator=(const RemoveUnlessFinished&) = delete;
  ~RemoveUnlessFinished() {
    std::error_code ec;
    if (!finished_ && !existed_) fs::remove_all(folder_, ec);
  }
  void finished() { finished_ = true; }

 private:
  fs::path folder_;
  bool existed_, finished_ = false;
};

// shared_ptr: its deleter is bound where the context is made, so builds without CUDA (where
// CudaContext is only declared) compile.
std::shared_ptr<CudaContext> make_context(const std::string& device) {
  if (device != "auto" && device != "cpu" && device != "cuda") fail("option --device: expected auto, cpu or cuda, got '" + device + "'");
#ifdef MDCSRN_HAVE_CUDA
  if (device == "cuda" || (device == "auto" && cuda_device_count() > 0)) return std::make_shared<CudaContext>(0);
#else
  if (device == "cuda") fail("option --device cuda: this build has no CUDA backend");
#endif
  return nullptr;
}

}  // namespace

int run_prepare(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  {"preset", "templates", "hr", "brain-mask", "cerebellum-mask", "labels", "cerebellum-labels", "hcp", "split",
                   "seed", "id", "scale", "axes", "window", "weight-window", "device", "out"},
                  {"renormalize-lr", "overwrite"}, "mdcsrn prepare");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const int sources = int(args.has("preset")) + int(args.has("hr")) + int(args.has("hcp"));
  if (sources != 1) fail("prepare: give exactly one of --preset, --hr or --hcp (see mdcsrn prepare --help)");

  PrepareOptions base;
  base.kspace.scale = args.get_int("scale", 4);
  if (base.kspace.scale < 1) fail("option --scale: must be at least 1");
  base.kspace.truncate = {false, false, false};
  for (int axis : parse_int_list(args.get("axes", "1,2"), "option --axes")) {
    if (axis < 0 || axis > 2) fail("option --axes: axes are 0, 1 or 2");
    base.kspace.truncate[size_t(axis)] = true;
  }
  base.kspace.window = parse_kspace_window(args.get("window", "none"));
  base.renormalize_lr = args.has("renormalize-lr");
  base.weight_window = args.get_int("weight-window", 7);
  if (base.weight_window < 1) fail("option --weight-window: must be at least 1");

  std::string out = args.get("out", args.get("preset") == "colin27" ? "data/colin27" : "");
  if (out.empty()) fail("prepare: --out is required");
  const fs::path manifest_path = fs::path(out) / "manifest.json";
  const bool occupied = fs::exists(manifest_path);
  if (occupied && !args.has("overwrite"))
    fail(out + ": holds a prepared dataset (manifest.json); --overwrite prepares it again, replacing its files, or choose another --out");
  std::shared_ptr<CudaContext> ctx = make_context(args.get("device", "auto"));

  Manifest manifest;
  manifest.kspace = base.kspace;
  std::vector<PreparedSubject> prepared;
  std::vector<PrepareOptions> jobs;
  const Timer total;

  if (args.has("preset")) {
    if (args.get("preset") != "colin27") fail("option --preset: unknown preset '" + args.get("preset") + "' (known: colin27)");
    const std::string templates = args.get("templates", "/usr/share/mricron/templates");
    PrepareOptions o = base;
    o.id = "colin27";
    o.hr = templates + "/ch2better.nii.gz";
    o.labels = templates + "/aal.nii.gz";
    o.cerebellum_labels = "aal";
    o.resample_labels = true;
    if (!fs::exists(o.hr)) fail(o.hr + ": no such file (install the Debian package mricron-data, or give --templates)");
    o.out_dir = out;
    manifest.dataset = "colin27";
    jobs.push_back(o);
  } else if (args.has("hr")) {
    PrepareOptions o = base;
    o.hr = args.get("hr");
    o.id = args.get("id", fs::path(o.hr).filename().string().substr(0, fs::path(o.hr).filename().string().find('.')));
    o.brain_mask = args.get("brain-mask");
    o.cerebellum_mask = args.get("cerebellum-mask");
    o.labels = args.get("labels");
    o.cerebellum_labels = args.get("cerebellum-labels", "aseg");
    o.out_dir = out;
    manifest.dataset = o.id;
    jobs.push_back(o);
  } else {
    const fs::path root = args.get("hcp");
    if (!fs::is_directory(root)) fail(root.string() + ": not a folder");
    std::vector<std::string> ids;
    for (const auto& entry : fs::directory_iterator(root))
      if (fs::exists(entry.path() / "T1w" / "T1w_acpc_dc_restore_brain.nii.gz")) ids.push_back(entry.path().filename().string());
    std::sort(ids.begin(), ids.end());
    if (ids.empty()) fail(root.string() + ": no subject folder with T1w/T1w_acpc_dc_restore_brain.nii.gz");
    for (const std::string& id : ids) {
      PrepareOptions o = base;
      o.id = id;
      o.hr = (root / id / "T1w" / "T1w_acpc_dc_restore_brain.nii.gz").string();
      o.labels = (root / id / "T1w" / "aparc+aseg.nii.gz").string();
      o.cerebellum_labels = "aseg";
      o.out_dir = (fs::path(out) / id).string();
      jobs.push_back(o);
    }
    manifest.dataset = "hcp";
  }

  // Every input's header before anything is written (a subject's voxels are read when it is prepared).
  for (const PrepareOptions& o : jobs) {
    const Volume hr = read_volume_header(o.hr);
    for (const std::string& input : {o.brain_mask, o.cerebellum_mask, o.labels}) {
      if (input.empty()) continue;
      const Volume other = read_volume_header(input);
      if (!(o.resample_labels && input == o.labels)) require_same_grid(hr, other, input);
    }
  }
  // A manifest is the dataset's promise that its files belong together: none while they are replaced.
  if (occupied) fs::remove(manifest_path);
  RemoveUnlessFinished cleanup(out);
  std::printf("prepare: FFT on %s\n", ctx ? describe_device(DeviceKind::Cuda).c_str() : "the CPU (FFTW)");
  // Several subjects at once, one a CPU thread (most of a subject's time is compressing its
  // outputs, serial within a file); reported and listed in the manifest in order.
  struct Prepared {
    PreparedSubject subject;
    double seconds;
  };
  ordered_parallel(
      int64_t(jobs.size()), std::min(cpu_threads(), kMaxSubjectsPreparedAtOnce),
      [&](int64_t n) {
        const Timer t;
        PreparedSubject s = prepare_subject(jobs[size_t(n)], out, ctx.get());
        return Prepared{std::move(s), t.seconds()};
      },
      [&](int64_t n, Prepared done) {
        const PreparedSubject& s = done.subject;
        std::printf("[%lld/%zu] %s: %lldx%lldx%lld, brain %lld voxels, cerebellum %lld voxels (%.1f s)\n", (long long)n + 1, jobs.size(),
                    s.entry.id.c_str(), (long long)s.dims[0], (long long)s.dims[1], (long long)s.dims[2], (long long)s.brain_voxels,
                    (long long)s.cerebellum_voxels, done.seconds);
        std::fflush(stdout);
        manifest.subjects.push_back(s.entry);
        prepared.push_back(std::move(done.subject));
        // Several subjects are split whole, which needs their voxel counts only: their masks (two
        // bytes a voxel, ~50 MB at HCP's grid) would otherwise stay until the last one is prepared.
        if (jobs.size() > 1) {
          Mask().swap(prepared.back().brain);
          Mask().swap(prepared.back().cerebellum);
        }
      });
  if (jobs.size() == 1) {
    manifest.subjects[0].splits = hemisphere_split(prepared[0]);
    const auto& splits = manifest.subjects[0].splits;
    const Region &train = splits.at("train"), &val = splits.at("val"), &test = splits.at("test");
    std::printf("spatial split along voxel axis %d: train [%lld, %lld) (left hemisphere), val [%lld, %lld) (its lateral quarter), "
                "test [%lld, %lld) (right hemisphere)\n", train.axis, (long long)train.begin, (long long)train.end,
                (long long)val.begin, (long long)val.end, (long long)test.begin, (long long)test.end);
  } else {
    const std::vector<std::string> split = assign_subject_splits(int(jobs.size()), args.get("split", "800/100/rest"), args.get_u64("seed", 0));
    for (size_t n = 0; n < jobs.size(); ++n)
      if (!split[n].empty()) manifest.subjects[n].splits[split[n]] = Region{};
  }
  manifest.save(manifest_path.string());
  std::printf("\n%s", split_report(manifest, prepared).c_str());
  std::printf("\nwrote %s (%.1f s)\n", manifest_path.string().c_str(), total.seconds());
  cleanup.finished();
  return 0;
}

}  // namespace mdcsrn::cli
