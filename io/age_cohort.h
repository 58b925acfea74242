#pragma once
// A synthetic brain-age cohort built from one template head (Colin27 for the tests and the demo),
// for checking the brain-age pipeline where no multi-subject data with ages can be shipped. Each
// subject gets an age, uniform in [min_age, max_age], and these effects of it, growing linearly
// from none at min_age to the stated amount at max_age:
//   - atrophy: the brain contracts towards its centre (by `shrink` of its radius), so that the
//     CSF around it widens, while the skull stays;
//   - widening sulci and ventricles: a grey-level erosion (the 3^3 minimum) blended in by up to
//     `erosion`, which grows every dark fold;
//   - falling grey/white contrast: tissue intensities (above 0.6 of the brain's mean; CSF stays
//     dark) pulled towards the brain's mean by up to `contrast_loss`;
// and, independent of age, so that age is not the only difference: a random smooth deformation
// (a few sinusoids, up to `warp_mm`), a smooth multiplicative bias field (up to `bias` either
// way) and Gaussian noise (`noise` of the brain's mean). Random numbers are Philox draws, so one
// seed gives one cohort on every machine. The cohort shows the pipeline working; its ages and
// effects are made up, and MAEs on it are not brain-age results.
#include <cstdint>
#include <string>
#include <vector>

#include "io/volume.h"

namespace mdcsrn {

struct AgeCohortOptions {
  int subjects = 24;
  double min_age = 20, max_age = 80;
  double shrink = 0.08, erosion = 0.8, contrast_loss = 0.4;
  double warp_mm = 1.5, bias = 0.1, noise = 0.02;
  uint64_t seed = 0;
};

struct CohortSubject {
  std::string id;  // "sub-01", ...
  double age = 0;
  Volume hr;       // on the template's grid
};

// `brain`: the template's brain mask on its grid (non-zero inside). Throws for mismatched grids,
// an empty mask or bad options.
std::vector<CohortSubject> make_age_cohort(const Volume& hr_template, const Volume& brain, const AgeCohortOptions& options);

// One subject (index s of the cohort), for callers that write subjects one at a time.
CohortSubject make_cohort_subject(const Volume& hr_template, const Volume& brain, const AgeCohortOptions& options, int s);

}  // namespace mdcsrn
