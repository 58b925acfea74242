#pragma once
// Training one brain-age regressor and predicting with it: whole volumes on the age grid
// (io/age_grid.h), ages standardised by the training subjects' mean and standard deviation (the
// network predicts z-scores, so its zero-initialised head starts at the mean age instead of at 0
// years), mini-batches of whole volumes in an order shuffled every epoch, Adam, and eval-mode
// predictions (running BatchNorm statistics) turned back into years.
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/arena.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "models/age_regressor.h"

namespace mdcsrn {

struct AgeTrainingOptions {
  AgeRegressorConfig model = AgeRegressorConfig::small();
  int epochs = 40;
  int batch = 4;
  AdamConfig adam{};
  LossKind loss = LossKind::L1;
  uint64_t seed = 0;  // initial weights and the epochs' orders
};

// Fold of each of `subjects` subjects: a seeded shuffle dealt round-robin into `folds` folds, so
// that fold sizes differ by at most one and do not depend on anything but (subjects, folds, seed).
std::vector<int> assign_folds(int subjects, int folds, uint64_t seed);

// Training subjects' inputs (each grid.size voxels, x fastest) and ages; test subjects' inputs.
struct AgeTrainingData {
  std::array<int64_t, 3> grid{};
  std::vector<const std::vector<float>*> train, test;
  std::vector<double> train_ages;
};

// Called after every epoch with its number (from 1) and mean training loss (on z-scores).
using AgeEpochCallback = std::function<void(int epoch, double loss)>;

namespace age_training_detail {

// A deterministic permutation of [0, n) for (seed, epoch): Fisher-Yates over Philox words.
std::vector<int> epoch_order(int n, uint64_t seed, int epoch);

}  // namespace age_training_detail

// A trained regressor: its parameters (padded like the arena) and running BatchNorm statistics,
// the standardisation of its output, and the test subjects' predicted ages (years), in order.
struct AgeFit {
  std::vector<float> params, running;
  double age_mean = 0, age_scale = 1;
  int64_t steps = 0;  // training batches (PyTorch's BatchNorm num_batches_tracked)
  std::vector<double> predictions;
};

template <class Backend>
AgeFit train_age_regressor(Backend backend, const AgeTrainingOptions& o, const AgeTrainingData& data,
                                        const AgeEpochCallback& on_epoch = {}) {
  using T = typename Backend::Scalar;
  static_assert(std::is_same_v<T, float>, "the regressor trains in float");
  MDCSRN_ASSERT(data.train.size() >= 2 && data.train.size() == data.train_ages.size(), "age training: at least two training subjects");
  MDCSRN_ASSERT(o.batch >= 1 && o.epochs >= 1, "age training: batch and epochs must be positive");
  const int64_t voxels = data.grid[0] * data.grid[1] * data.grid[2];
  double mean = 0, variance = 0;
  for (double a : data.train_ages) mean += a / double(data.train_ages.size());
  for (double a : data.train_ages) variance += (a - mean) * (a - mean) / double(data.train_ages.size());
  const double scale = variance > 0 ? std::sqrt(variance) : 1.0;

  const AgeRegressorLayout layout(o.model);
  const MemoryKind m = Backend::memory;
  Arena arena(layout.table(), m);
  raw_copy(m, arena.params(), MemoryKind::Host, initial_age_regressor_parameters(layout, o.seed).data(),
           sizeof(float) * size_t(layout.table().padded_size()));
  const int batch = std::min<int>(o.batch, int(data.train.size()));
  const Shape5 capacity{batch, 1, data.grid[2], data.grid[1], data.grid[0]};
  AgeRegressor<Backend> model(layout, backend, capacity);
  Buffer<T> x(m, capacity.numel()), out(m, batch), target(m, batch), dout(m, batch), loss(m, 1);
  std::vector<T> host_x(static_cast<size_t>(capacity.numel())), host_target(static_cast<size_t>(batch));
  int64_t step = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const std::vector<int> order = age_training_detail::epoch_order(int(data.train.size()), o.seed, epoch);
    double loss_sum = 0;
    int batches = 0;
    // Full batches only (the batch is at most the training set): the order changes every epoch,
    // so every subject is trained on, and no lone leftover volume weighs as much as a batch.
    for (size_t first = 0; first + size_t(batch) <= order.size(); first += size_t(batch)) {
      const int n = batch;
      for (int b = 0; b < n; ++b) {
        const int s = order[first + size_t(b)];
        std::copy(data.train[size_t(s)]->begin(), data.train[size_t(s)]->end(), host_x.begin() + int64_t(b) * voxels);
        host_target[size_t(b)] = T((data.train_ages[size_t(s)] - mean) / scale);
      }
      raw_copy(m, x.data(), MemoryKind::Host, host_x.data(), sizeof(T) * size_t(n * voxels));
      raw_copy(m, target.data(), MemoryKind::Host, host_target.data(), sizeof(T) * size_t(n));
      const Shape5 in{n, 1, capacity.d, capacity.h, capacity.w}, scalar{n, 1, 1, 1, 1};
      const Tensor<T> xt(x.data(), in), ot(out.data(), scalar), tt(target.data(), scalar), dt(dout.data(), scalar);
      model.forward(arena.params(), xt, ot, NormMode::Train);
      backend.loss_forward_backward(o.loss, ot, tt, T(1), loss.data(), dt, GradMode::Overwrite);
      model.backward(arena.params(), arena.grads(), xt, dt, NormMode::Train);
      backend.adam(adam_step(o.adam, ++step), arena.params(), arena.grads(), arena.adam_m(), arena.adam_v(), arena.size());
      loss_sum += double(loss.download()[0]);
      ++batches;
    }
    if (on_epoch) on_epoch(epoch, loss_sum / batches);
  }

  AgeFit fit;
  fit.age_mean = mean;
  fit.age_scale = scale;
  fit.steps = step;
  for (size_t first = 0; first < data.test.size(); first += size_t(batch)) {
    const int n = int(std::min<size_t>(size_t(batch), data.test.size() - first));
    for (int b = 0; b < n; ++b) std::copy(data.test[first + size_t(b)]->begin(), data.test[first + size_t(b)]->end(), host_x.begin() + int64_t(b) * voxels);
    raw_copy(m, x.data(), MemoryKind::Host, host_x.data(), sizeof(T) * size_t(n * voxels));
    const Tensor<T> xt(x.data(), Shape5{n, 1, capacity.d, capacity.h, capacity.w}), ot(out.data(), Shape5{n, 1, 1, 1, 1});
    model.forward(arena.params(), xt, ot, NormMode::Eval);
    const std::vector<T> z = out.download();
    for (int b = 0; b < n; ++b) fit.predictions.push_back(mean + scale * double(z[size_t(b)]));
  }
  fit.params.resize(size_t(layout.table().padded_size()));
  raw_copy(MemoryKind::Host, fit.params.data(), m, arena.params(), sizeof(float) * fit.params.size());
  fit.running.resize(size_t(2 * layout.norm_channels()));
  raw_copy(MemoryKind::Host, fit.running.data(), m, model.running_stats(), sizeof(float) * fit.running.size());
  return fit;
}

}  // namespace mdcsrn
