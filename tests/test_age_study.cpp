#include <set>

#include "io/age_cohort.h"
#include "models/age_training.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / double(a.size()), mb += b[i] / double(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return sab / std::sqrt(saa * sbb);
}

Volume brain_of(const Phantom& p) {
  std::vector<float> inside(p.labels.data.size());
  for (size_t i = 0; i < inside.size(); ++i) inside[i] = p.labels.data[i] != 0 ? 1.f : 0.f;
  return p.hr.like(std::move(inside));
}

TEST_SUITE("age_study") {
  TEST_CASE("folds: every subject in one, sizes within one, the same for the same seed") {
    const std::vector<int> folds = assign_folds(23, 5, 7);
    std::vector<int> sizes(5);
    for (int f : folds) ++sizes[size_t(f)];
    CHECK(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()) <= 1);
    CHECK(assign_folds(23, 5, 7) == folds);
    CHECK(assign_folds(23, 5, 8) != folds);
    CHECK_THROWS_WITH_AS(assign_folds(3, 5, 0), doctest::Contains("3 subjects cannot fill 5 folds"), Error);
    const std::vector<int> order = age_training_detail::epoch_order(10, 1, 2);
    CHECK(std::set<int>(order.begin(), order.end()).size() == 10);
    CHECK(age_training_detail::epoch_order(10, 1, 3) != order);
  }

  TEST_CASE("the synthetic cohort: reproducible, ages in range, contrast falls and dark folds grow with age") {
    const Phantom p = make_phantom(48, 40, 36, 3, PhantomTexture::Spheres);
    const Volume brain = brain_of(p);
    AgeCohortOptions o;
    o.subjects = 10;
    o.seed = 4;
    const std::vector<CohortSubject> cohort = make_age_cohort(p.hr, brain, o);
    CHECK(make_cohort_subject(p.hr, brain, o, 3).hr.data == cohort[3].hr.data);
    o.seed = 5;
    CHECK(make_cohort_subject(p.hr, brain, o, 3).hr.data != cohort[3].hr.data);
    std::vector<double> ages, spread, dark;
    double brain_mean = 0;
    int64_t count = 0;
    for (size_t i = 0; i < brain.data.size(); ++i)
      if (brain.data[i] != 0) brain_mean += p.hr.data[i], ++count;
    brain_mean /= double(count);
    for (const CohortSubject& s : cohort) {
      CHECK(s.age >= 20);
      CHECK(s.age <= 80);
      CHECK(s.hr.dims == p.hr.dims);
      // Tissue contrast: the spread of the voxels brighter than 0.6 of the template's brain mean.
      double sum = 0, squares = 0;
      int64_t low = 0, tissue = 0;
      for (size_t i = 0; i < brain.data.size(); ++i)
        if (brain.data[i] != 0) {
          low += s.hr.data[i] < 0.3 * brain_mean;
          if (s.hr.data[i] < 0.6 * brain_mean) continue;
          sum += s.hr.data[i], squares += double(s.hr.data[i]) * s.hr.data[i];
          ++tissue;
        }
      const double mean = sum / double(tissue);
      ages.push_back(s.age);
      spread.push_back(std::sqrt(squares / double(tissue) - mean * mean) / mean);
      dark.push_back(double(low) / double(count));
    }
    MESSAGE("correlation with age: relative spread " << pearson(ages, spread) << ", dark fraction " << pearson(ages, dark));
    CHECK(pearson(ages, spread) < -0.8);
    CHECK(pearson(ages, dark) > 0.8);
    const Volume empty = brain.like(std::vector<float>(brain.data.size(), 0.f));
    CHECK_THROWS_WITH_AS(make_cohort_subject(p.hr, empty, o, 0), doctest::Contains("the brain mask is empty"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
