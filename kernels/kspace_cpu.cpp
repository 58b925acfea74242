#include <fftw3.h>
#include <omp.h>

#include <complex>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "kernels/kspace.h"

namespace mdcsrn {

KspaceWindow parse_kspace_window(const std::string& name) {
  if (name == "none") return KspaceWindow::None;
  if (name == "hamming") return KspaceWindow::Hamming;
  if (name == "tukey") return KspaceWindow::Tukey;
  fail("unknown k-space window '" + name + "' (expected none, hamming or tukey)");
}

const char* kspace_window_name(KspaceWindow w) {
  switch (w) {
    case KspaceWindow::Hamming: return "hamming";
    case KspaceWindow::Tukey: return "tukey";
    default: return "none";
  }
}

namespace cpu {
namespace {

struct PlanDeleter {
  void operator()(fftwf_plan p) const { fftwf_destroy_plan(p); }
};
using Plan = std::unique_ptr<std::remove_pointer_t<fftwf_plan>, PlanDeleter>;

// FFTW's planner is not thread-safe; transforms themselves run on all CPU threads.
std::mutex planner_mutex;

Plan make_plan(const std::array<int64_t, 3>& dims, fftwf_complex* data, int direction) {
  std::lock_guard<std::mutex> lock(planner_mutex);
  static const bool threads_ready = fftwf_init_threads() != 0;
  if (threads_ready) fftwf_plan_with_nthreads(cpu_threads());
  // FFTW's row-major order: k slowest, i fastest.
  Plan plan(fftwf_plan_dft_3d(int(dims[2]), int(dims[1]), int(dims[0]), data, data, direction, FFTW_ESTIMATE));
  MDCSRN_REQUIRE(plan != nullptr, "kspace_truncate: FFTW could not plan the transform");
  return plan;
}

}  // namespace

void kspace_truncate(const float* hr, float* lr, const std::array<int64_t, 3>& dims, const KspaceTruncation& t) {
  MDCSRN_REQUIRE(t.scale >= 1, "kspace_truncate: scale must be at least 1");
  const int64_t total = dims[0] * dims[1] * dims[2];
  auto* buffer = static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * size_t(total)));
  MDCSRN_REQUIRE(buffer != nullptr, "kspace_truncate: out of host memory");
  std::unique_ptr<fftwf_complex, decltype(&fftwf_free)> owner(buffer, &fftwf_free);
  const Plan forward = make_plan(dims, buffer, FFTW_FORWARD);
  const Plan inverse = make_plan(dims, buffer, FFTW_BACKWARD);

  parallel_for(total, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      buffer[v][0] = hr[v];
      buffer[v][1] = 0.f;
    }
  });
  fftwf_execute(forward.get());

  std::array<std::vector<float>, 3> weight;
  for (int a = 0; a < 3; ++a) {
    weight[size_t(a)].resize(static_cast<size_t>(dims[size_t(a)]));
    const int64_t kept = t.truncate[size_t(a)] ? kept_frequencies(dims[size_t(a)], t.scale) : dims[size_t(a)];
    for (int64_t i = 0; i < dims[size_t(a)]; ++i)
      weight[size_t(a)][size_t(i)] = t.truncate[size_t(a)] ? kspace_axis_weight(i, dims[size_t(a)], kept, t.window) : 1.f;
  }
  parallel_for(total, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      const int64_t i = v % dims[0], j = v / dims[0] % dims[1], k = v / (dims[0] * dims[1]);
      const float w = weight[0][size_t(i)] * weight[1][size_t(j)] * weight[2][size_t(k)];
      buffer[v][0] *= w;
      buffer[v][1] *= w;
    }
  });
  fftwf_execute(inverse.get());

  const float inverse_count = 1.f / float(total);  // FFTW's inverse is unnormalised
  parallel_for(total, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) lr[v] = std::abs(std::complex<float>(buffer[v][0], buffer[v][1])) * inverse_count;
  });
}

}  // namespace cpu
}  // namespace mdcsrn
