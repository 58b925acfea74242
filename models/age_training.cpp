#include "models/age_training.h"

#include <numeric>

#include "engine/philox.h"

namespace mdcsrn {
namespace {

// Fisher-Yates over Philox words of (seed, stream): the same permutation on every machine.
std::vector<int> shuffled(int n, uint64_t seed, uint32_t stream) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int i = n - 1; i > 0; --i) {
    const PhiloxWords w = philox_draw(seed, stream, uint64_t(i));
    std::swap(order[size_t(i)], order[size_t(uniform_below(w.v[0], uint32_t(i + 1)))]);
  }
  return order;
}

// Streams apart from the initialisations' (0 .. ~5000).
constexpr uint32_t kFoldStream = 1u << 20, kEpochStream = (1u << 20) + 1;

}  // namespace

std::vector<int> assign_folds(int subjects, int folds, uint64_t seed) {
  MDCSRN_REQUIRE(folds >= 2 && subjects >= folds, "age folds: " + std::to_string(subjects) + " subjects cannot fill " + std::to_string(folds) +
                                                     " folds");
  const std::vector<int> order = shuffled(subjects, seed, kFoldStream);
  std::vector<int> fold(static_cast<size_t>(subjects));
  for (int i = 0; i < subjects; ++i) fold[size_t(order[size_t(i)])] = i % folds;
  return fold;
}

namespace age_training_detail {

std::vector<int> epoch_order(int n, uint64_t seed, int epoch) { return shuffled(n, seed, kEpochStream + 2 * uint32_t(epoch)); }

}  // namespace age_training_detail

}  // namespace mdcsrn
