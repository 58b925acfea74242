#include "io/prepare.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/volume_lines.h"
#include "kernels/kspace.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn {
namespace {

namespace fs = std::filesystem;

// Mean over a cube of side `window` (clipped at the borders), one separable pass per axis.
void box_mean(std::vector<float>& v, const std::array<int64_t, 3>& dims, int window) {
  const int64_t radius = window / 2;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = dims[size_t(axis)];
    const int64_t step = axis_step(axis, dims);
    const int64_t lines = v.size() / size_t(n);
    parallel_for(lines, 64, [&](int64_t begin, int64_t end) {
      std::vector<double> prefix(static_cast<size_t>(n + 1));
      for (int64_t line = begin; line < end; ++line) {
        const int64_t start = axis_line_start(axis, line, dims);
        for (int64_t x = 0; x < n; ++x) prefix[size_t(x + 1)] = prefix[size_t(x)] + v[size_t(start + x * step)];
        for (int64_t x = 0; x < n; ++x) {
          const int64_t lo = std::max<int64_t>(0, x - radius), hi = std::min<int64_t>(n, x + radius + 1);
          v[size_t(start + x * step)] = float((prefix[size_t(hi)] - prefix[size_t(lo)]) / double(hi - lo));
        }
      }
    });
  }
}

std::vector<float> synthesize_lr(const std::vector<float>& hr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t,
                                 CudaContext* ctx) {
  std::vector<float> lr(hr.size());
#ifdef MDCSRN_HAVE_CUDA
  if (ctx) {
    // Subjects prepared at once share the context: one transform at a time (its FFT plans and stream).
    static std::mutex context_mutex;
    const std::lock_guard<std::mutex> lock(context_mutex);
    Buffer<float> device_hr(MemoryKind::Device, int64_t(hr.size())), device_lr(MemoryKind::Device, int64_t(hr.size()));
    device_hr.upload(hr);
    gpu::kspace_truncate(*ctx, device_hr.data(), device_lr.data(), dims, t);
    ctx->synchronize();
    return device_lr.download();
  }
#else
  (void)ctx;
#endif
  cpu::kspace_truncate(hr.data(), lr.data(), dims, t);
  return lr;
}

}  // namespace

PreparedSubject prepare_subject(const PrepareOptions& o, const std::string& manifest_folder, CudaContext* ctx) {
  MDCSRN_REQUIRE(!o.hr.empty(), "prepare: an HR volume is required (--hr)");
  MDCSRN_REQUIRE(!o.out_dir.empty(), "prepare: an output folder is required (--out)");
  Volume hr = read_volume(o.hr);
  Mask brain;
  if (!o.brain_mask.empty()) {
    const Volume m = read_volume(o.brain_mask);
    require_same_grid(hr, m, o.brain_mask);
    brain = nonzero_mask(m);
  } else {
    brain = nonzero_mask(hr);
  }
  if (count(brain) == 0) fail((o.brain_mask.empty() ? o.hr : o.brain_mask) + ": the brain mask is empty");

  Mask cerebellum;
  if (!o.cerebellum_mask.empty()) {
    const Volume m = read_volume(o.cerebellum_mask);
    require_same_grid(hr, m, o.cerebellum_mask);
    cerebellum = nonzero_mask(m);
  } else if (!o.labels.empty()) {
    Volume labels = read_volume(o.labels);
    if (o.resample_labels)
      labels = resample_nearest(labels, hr);
    else
      require_same_grid(hr, labels, o.labels);
    cerebellum = labels_to_mask(labels, parse_cerebellum_labels(o.cerebellum_labels));
  } else {
    fail("prepare: a cerebellum mask (--cerebellum-mask) or a label volume (--labels) is required");
  }
  for (size_t v = 0; v < cerebellum.size(); ++v) cerebellum[v] &= brain[v];
  if (count(cerebellum) == 0)
    fail((o.cerebellum_mask.empty() ? o.labels : o.cerebellum_mask) + ": the cerebellum mask is empty inside the brain");

  // Normalise by the maximum, as the authors' code does; the background stays zero.
  const float peak = *std::max_element(hr.data.begin(), hr.data.end());
  if (!(peak > 0.f)) fail(o.hr + ": the image has no positive voxel to normalise by");
  for (float& v : hr.data) v /= peak;

  std::vector<float> lr = synthesize_lr(hr.data, hr.dims, o.kspace, ctx);
  float lr_peak = 1.f;
  if (o.renormalize_lr) {
    lr_peak = *std::max_element(lr.begin(), lr.end());
    for (float& v : lr) v /= lr_peak;
  }

  // Local energy of the detail that truncation removed: where super-resolution has most to do.
  std::vector<float> weight(hr.data.size());
  for (size_t v = 0; v < weight.size(); ++v) weight[v] = (hr.data[v] - lr[v]) * (hr.data[v] - lr[v]);
  box_mean(weight, hr.dims, o.weight_window);

  // Only now that every input has been read and checked.
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) fail(o.out_dir + ": cannot create the output folder (" + ec.message() + ")");
  const fs::path out(o.out_dir);
  const std::string note = "mdcsrn prepare";
  write_volume(hr, (out / "hr.nii.gz").string(), note + ": HR / max");
  write_volume(hr.like(lr), (out / "lr.nii.gz").string(), note + ": k-space truncated LR");
  write_volume(mask_volume(hr, brain), (out / "brain_mask.nii.gz").string(), note + ": brain mask");
  write_volume(mask_volume(hr, cerebellum), (out / "cerebellum_mask.nii.gz").string(), note + ": cerebellum mask");
  write_volume(hr.like(weight), (out / "hf_weight.nii.gz").string(), note + ": local energy of HR - LR");

  std::vector<int> axes;
  std::vector<int64_t> kept;
  for (int a = 0; a < 3; ++a)
    if (o.kspace.truncate[size_t(a)]) {
      axes.push_back(a);
      kept.push_back(kept_frequencies(hr.dims[size_t(a)], o.kspace.scale));
    }
  const nlohmann::json sidecar = {
      {"source", o.hr},
      {"normalization", {{"hr_divided_by", peak}, {"lr_renormalized", o.renormalize_lr}, {"lr_divided_by", lr_peak}}},
      {"kspace", {{"scale", o.kspace.scale}, {"truncated_axes", axes}, {"kept_frequencies", kept},
                  {"window", kspace_window_name(o.kspace.window)}, {"fft", ctx ? "cuFFT" : "FFTW"}}},
      {"hf_weight_window", o.weight_window},
      {"dims", hr.dims}};
  write_text_atomically((out / "lr.json").string(), sidecar.dump(2) + "\n");

  PreparedSubject s;
  s.dims = hr.dims;
  s.voxel_to_world = hr.voxel_to_world();
  s.brain_voxels = count(brain);
  s.cerebellum_voxels = count(cerebellum);
  const fs::path relative = fs::relative(out, manifest_folder.empty() ? fs::path(".") : fs::path(manifest_folder));
  s.entry.id = o.id;
  s.entry.hr = (relative / "hr.nii.gz").string();
  s.entry.lr = (relative / "lr.nii.gz").string();
  s.entry.brain_mask = (relative / "brain_mask.nii.gz").string();
  s.entry.cerebellum_mask = (relative / "cerebellum_mask.nii.gz").string();
  s.brain = std::move(brain);
  s.cerebellum = std::move(cerebellum);
  return s;
}

std::map<std::string, Region> hemisphere_split(const PreparedSubject& s) {
  const Affine& a = s.voxel_to_world;
  int axis = 0;
  for (int c = 1; c < 3; ++c)
    if (std::fabs(a[0][size_t(c)]) > std::fabs(a[0][size_t(axis)])) axis = c;
  const double step = a[0][size_t(axis)];
  // Extent of the brain along the axis, and its centre of mass.
  int64_t lo = s.dims[size_t(axis)], hi = -1;
  double sum = 0;
  int64_t n = 0;
  for (int64_t k = 0; k < s.dims[2]; ++k)
    for (int64_t j = 0; j < s.dims[1]; ++j)
      for (int64_t i = 0; i < s.dims[0]; ++i)
        if (s.brain[size_t(i + s.dims[0] * (j + s.dims[1] * k))]) {
          const int64_t x = axis == 0 ? i : (axis == 1 ? j : k);
          lo = std::min(lo, x), hi = std::max(hi, x), sum += double(x), ++n;
        }
  // Index where world x crosses 0 at the volume's centre along the other axes.
  double offset = a[0][3];
  for (int c = 0; c < 3; ++c)
    if (c != axis) offset += a[0][size_t(c)] * double(s.dims[size_t(c)] - 1) / 2.0;
  const double zero_crossing = -offset / step;
  const double mid = (zero_crossing > double(lo) && zero_crossing < double(hi)) ? zero_crossing : sum / double(n);
  const int64_t cut = int64_t(std::llround(mid)), n_axis = s.dims[size_t(axis)];
  // World x grows with the index when step > 0, so the lower indices are the left hemisphere.
  if (step > 0) {
    const int64_t lateral = lo + (cut - lo) / 4;
    return {{"val", {axis, 0, lateral}}, {"train", {axis, lateral, cut}}, {"test", {axis, cut, n_axis}}};
  }
  const int64_t lateral = hi + 1 - (hi + 1 - cut) / 4;
  return {{"test", {axis, 0, cut}}, {"train", {axis, cut, lateral}}, {"val", {axis, lateral, n_axis}}};
}

std::string split_report(const Manifest& manifest, const std::vector<PreparedSubject>& subjects) {
  std::map<std::string, std::array<int64_t, 3>> totals;  // subjects, brain, cerebellum
  for (size_t si = 0; si < subjects.size(); ++si) {
    const PreparedSubject& s = subjects[si];
    for (const auto& [name, region] : manifest.subjects[si].splits) {
      auto& t = totals[name];
      ++t[0];
      if (region.whole()) {
        t[1] += s.brain_voxels;
        t[2] += s.cerebellum_voxels;
        continue;
      }
      MDCSRN_ASSERT(!s.brain.empty() && !s.cerebellum.empty(), "split report: subject " + s.entry.id + "'s masks were released");
      for (int64_t k = 0; k < s.dims[2]; ++k)
        for (int64_t j = 0; j < s.dims[1]; ++j)
          for (int64_t i = 0; i < s.dims[0]; ++i) {
            if (!region.contains(i, j, k)) continue;
            const size_t v = size_t(i + s.dims[0] * (j + s.dims[1] * k));
            t[1] += s.brain[v];
            t[2] += s.cerebellum[v];
          }
    }
  }
  int64_t brain = 0, cerebellum = 0;
  for (const auto& s : subjects) brain += s.brain_voxels, cerebellum += s.cerebellum_voxels;
  char line[160];
  std::string out;
  std::snprintf(line, sizeof line, "%-8s %9s %14s %18s\n", "split", "subjects", "brain voxels", "cerebellum voxels");
  out += line;
  std::snprintf(line, sizeof line, "%-8s %9zu %14lld %18lld\n", "all", subjects.size(), (long long)brain, (long long)cerebellum);
  out += line;
  for (const auto& [name, t] : totals) {
    std::snprintf(line, sizeof line, "%-8s %9lld %14lld %18lld\n", name.c_str(), (long long)t[0], (long long)t[1], (long long)t[2]);
    out += line;
  }
  return out;
}

}  // namespace mdcsrn
