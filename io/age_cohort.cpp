#include "io/age_cohort.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/parallel.h"
#include "io/interpolation.h"
#include "kernels/random.h"

namespace mdcsrn {
namespace {

// Philox streams of subject s: one for its few parameters, one pair for its noise.
constexpr uint32_t kAgeStream = 0, kParameterStream = 1, kNoiseStream = 2;
uint32_t stream_of(int s, uint32_t kind) { return uint32_t(s) * 4 + kind; }

std::vector<double> uniforms(uint64_t seed, uint32_t stream, int64_t count) {
  std::vector<double> u(static_cast<size_t>(count));
  cpu::philox_uniform<double>(seed, stream, 0.0, 1.0, u.data(), count);
  return u;
}

// The 3^3 minimum of v (edges replicated).
std::vector<float> erode(const Volume& v) {
  std::vector<float> out(v.data.size());
  parallel_for(v.dims[2], 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      for (int64_t j = 0; j < v.dims[1]; ++j)
        for (int64_t i = 0; i < v.dims[0]; ++i) {
          float m = v.at(i, j, k);
          for (int64_t dk = -1; dk <= 1; ++dk)
            for (int64_t dj = -1; dj <= 1; ++dj)
              for (int64_t di = -1; di <= 1; ++di)
                m = std::min(m, v.at(std::clamp(i + di, int64_t(0), v.dims[0] - 1), std::clamp(j + dj, int64_t(0), v.dims[1] - 1),
                                     std::clamp(k + dk, int64_t(0), v.dims[2] - 1)));
          out[size_t(v.index(i, j, k))] = m;
        }
  });
  return out;
}

}  // namespace

CohortSubject make_cohort_subject(const Volume& hr, const Volume& brain, const AgeCohortOptions& o, int s) {
  require_same_grid(hr, brain, brain.source.empty() ? "the brain mask" : brain.source);
  MDCSRN_ASSERT(o.subjects >= 1 && s >= 0 && s < o.subjects, "age cohort: subject index out of range");
  MDCSRN_ASSERT(o.max_age > o.min_age && o.min_age > 0, "age cohort: ages must satisfy 0 < min_age < max_age");
  // The brain's centre and mean (voxel coordinates), and a smooth weight that is 1 inside it.
  double centre[3] = {0, 0, 0}, mean = 0;
  int64_t count = 0;
  for (int64_t k = 0; k < hr.dims[2]; ++k)
    for (int64_t j = 0; j < hr.dims[1]; ++j)
      for (int64_t i = 0; i < hr.dims[0]; ++i)
        if (brain.at(i, j, k) != 0) {
          centre[0] += double(i), centre[1] += double(j), centre[2] += double(k);
          mean += hr.at(i, j, k);
          ++count;
        }
  if (count == 0) fail((brain.source.empty() ? std::string("the brain mask") : brain.source) + ": the brain mask is empty");
  for (double& c : centre) c /= double(count);
  mean /= double(count);

  CohortSubject subject;
  char id[32];
  std::snprintf(id, sizeof id, "sub-%02d", s + 1);
  subject.id = id;
  const double t = uniforms(o.seed, stream_of(s, kAgeStream), 1)[0];
  subject.age = o.min_age + t * (o.max_age - o.min_age);
  // Per axis: three sinusoids (amplitude, wavelength in voxels, phase) and bias coefficients.
  const std::vector<double> u = uniforms(o.seed, stream_of(s, kParameterStream), 64);
  const std::array<double, 3> mm = hr.voxel_size();

  // Geometry: contraction towards the centre inside the brain, then the random warp.
  const double contraction = o.shrink * t;
  Volume moved = hr.like(std::vector<float>(hr.data.size()));
  Volume inside = hr.like(std::vector<float>(hr.data.size()));
  parallel_for(hr.dims[2], 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      for (int64_t j = 0; j < hr.dims[1]; ++j)
        for (int64_t i = 0; i < hr.dims[0]; ++i) {
          const double p[3] = {double(i), double(j), double(k)};
          double q[3];
          for (int a = 0; a < 3; ++a) {
            double warp = 0;
            for (int w = 0; w < 3; ++w) {
              const double* r = &u[size_t(a * 12 + w * 4)];
              const double wavelength = 40.0 + 80.0 * r[1];  // voxels
              warp += o.warp_mm / 3 / mm[size_t(a)] * (2 * r[0] - 1) * std::sin(2 * M_PI * (p[(a + 1 + w) % 3] / wavelength + r[2]));
            }
            q[a] = p[a] + warp;
          }
          // Sampling further out (by 1 / (1 - contraction)) where the template is brain shrinks it.
          const double weight = brain.at(i, j, k) != 0 ? 1.0 : 0.0;
          const double scale = 1.0 / (1.0 - contraction * weight);
          for (int a = 0; a < 3; ++a) q[a] = centre[a] + (q[a] - centre[a]) * scale;
          moved.at(i, j, k) = trilinear(hr, {q[0], q[1], q[2]}, Outside::Clamp);
          inside.at(i, j, k) = float(weight);
        }
  });
  // Sulci and ventricles: the erosion blended in; contrast: brain intensities towards the mean.
  const std::vector<float> eroded = erode(moved);
  const double blend = o.erosion * t, contrast = 1 - o.contrast_loss * t;
  std::vector<double> noise_u1 = uniforms(o.seed, stream_of(s, kNoiseStream), moved.voxels()),
                      noise_u2 = uniforms(o.seed, stream_of(s, kNoiseStream) + 1, moved.voxels());
  const double* bias = &u[36];
  std::vector<float> out(hr.data.size());
  parallel_for(hr.dims[2], 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      for (int64_t j = 0; j < hr.dims[1]; ++j)
        for (int64_t i = 0; i < hr.dims[0]; ++i) {
          const size_t at = size_t(hr.index(i, j, k));
          double v = (1 - blend) * moved.data[at] + blend * eroded[at];
          // Tissue only (brighter than half the brain's mean, fully from 0.6 of it): CSF stays dark.
          const double tissue = std::clamp((v / mean - 0.5) / 0.1, 0.0, 1.0) * inside.data[at];
          v += tissue * (mean + (v - mean) * contrast - v);
          // Bias: exp of a random linear-plus-quadratic field over coordinates in [-1, 1].
          const double x[3] = {2.0 * double(i) / double(hr.dims[0]) - 1, 2.0 * double(j) / double(hr.dims[1]) - 1,
                               2.0 * double(k) / double(hr.dims[2]) - 1};
          double field = 0;
          for (int a = 0; a < 3; ++a) field += (2 * bias[a] - 1) * x[a] + (2 * bias[3 + a] - 1) * x[a] * x[(a + 1) % 3];
          v *= std::exp(o.bias * field / 3);
          const double gaussian = std::sqrt(-2 * std::log1p(-noise_u1[at])) * std::cos(2 * M_PI * noise_u2[at]);
          out[at] = float(std::max(0.0, v + o.noise * mean * gaussian));
        }
  });
  subject.hr = hr.like(std::move(out));
  subject.hr.source = subject.id + " (synthetic, age " + std::to_string(subject.age) + ")";
  return subject;
}

std::vector<CohortSubject> make_age_cohort(const Volume& hr, const Volume& brain, const AgeCohortOptions& o) {
  std::vector<CohortSubject> cohort;
  for (int s = 0; s < o.subjects; ++s) cohort.push_back(make_cohort_subject(hr, brain, o, s));
  return cohort;
}

}  // namespace mdcsrn
