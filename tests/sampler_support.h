#pragma once
// A small training set for the sampler tests: the phantom's left half trains, its right half is
// held out.
#include "io/patch_dataset.h"
#include "tests/io_support.h"

namespace mdcsrn::test {

inline SamplerSubject phantom_subject(uint64_t seed, int64_t ni = 48, int64_t nj = 40, int64_t nk = 36) {
  const Phantom p = make_phantom(ni, nj, nk, seed);
  SamplerSubject s;
  s.id = "phantom" + std::to_string(seed);
  s.dims = p.hr.dims;
  s.hr = p.hr.data;
  for (float& v : s.hr) v /= 100.f;
  s.lr = s.hr;
  for (size_t v = 0; v < s.lr.size(); ++v) s.lr[v] = 0.5f * s.hr[v] + 0.01f * float(v % 7);
  s.brain = nonzero_mask(p.hr);
  s.cerebellum.resize(s.brain.size());
  for (size_t v = 0; v < s.brain.size(); ++v) s.cerebellum[v] = p.labels.data[v] == 8.f;
  s.region = Region{0, 0, ni / 2};
  s.weight.assign(s.hr.size(), 1.f);
  return s;
}

}  // namespace mdcsrn::test
