#include "kernels/patch_sampler.h"

#include "engine/error.h"
#include "engine/parallel.h"

namespace mdcsrn {

SamplingMode parse_sampling_mode(const std::string& name) {
  if (name == "uniform") return SamplingMode::Uniform;
  if (name == "balanced") return SamplingMode::Balanced;
  if (name == "weighted") return SamplingMode::Weighted;
  fail("unknown sampling mode '" + name + "' (expected uniform, balanced or weighted)");
}

const char* sampling_mode_name(SamplingMode m) {
  switch (m) {
    case SamplingMode::Balanced: return "balanced";
    case SamplingMode::Weighted: return "weighted";
    default: return "uniform";
  }
}

void CentreRunTable::append(const std::vector<uint32_t>& subject_centres, int64_t stride) {
  for (size_t n = 0; n < subject_centres.size(); ++n) {
    if (n == 0 || int64_t(subject_centres[n]) != int64_t(subject_centres[n - 1]) + stride) {
      start.push_back(subject_centres[n]);
      first.push_back(size);
    }
    ++size;
  }
}

namespace cpu {

void gather_patches(const SamplerView& v, int64_t first_patch, int batch, float* lr, float* hr, int32_t* centres) {
  const int64_t volume = int64_t(v.patch) * v.patch * v.patch;
  parallel_for(batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const DrawnCentre c = draw_centre(v, first_patch + b);
      write_centre(v, c, centres + b * kCentreFields);
      const PatchWindow w = patch_window(v, c);
      int64_t e = b * volume;
      for (int32_t k = 0; k < v.patch; ++k)
        for (int32_t j = 0; j < v.patch; ++j)
          for (int32_t i = 0; i < v.patch; ++i, ++e) gather_voxel(v, w, i, j, k, lr[e], hr[e]);
    }
  });
}

}  // namespace cpu
}  // namespace mdcsrn
