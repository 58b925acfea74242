#include "kernels/cpu_fused/plane_statistics.h"

#include "kernels/normalization.h"

namespace mdcsrn::cpu_fused {

void finish_statistics(const std::vector<PlaneMoments>& moments, int64_t planes, int channels, float eps, float* mean, float* var,
                       float* invstd, const Collectives* ranks) {
  std::vector<PlaneMoments> total(static_cast<size_t>(channels));
  for (int64_t p = 0; p < planes; ++p)
    for (int c = 0; c < channels; ++c) total[size_t(c)].merge(moments[size_t(p * channels + c)]);
  if (ranks) {
    std::vector<PlaneMoments> all(total.size() * size_t(ranks->size()));
    ranks->allgather(total.data(), sizeof(PlaneMoments) * total.size(), all.data());
    for (int c = 0; c < channels; ++c) {
      PlaneMoments m;
      for (int r = 0; r < ranks->size(); ++r) m.merge(all[size_t(r * channels + c)]);
      total[size_t(c)] = m;
    }
  }
  for (int c = 0; c < channels; ++c) {
    mean[c] = float(total[size_t(c)].mean);
    var[c] = float(total[size_t(c)].variance());
    invstd[c] = inverse_std(var[c], eps);
  }
}

void plane_moments(const float* values, int64_t count, int64_t stride, int channels, PlaneMoments* out) {
  std::vector<double> sum(size_t(channels), 0.0), squares(size_t(channels), 0.0);
  for (int64_t i = 0; i < count; ++i)
    for (int c = 0; c < channels; ++c) sum[size_t(c)] += values[i * stride + c];
  for (int c = 0; c < channels; ++c) sum[size_t(c)] /= double(count);
  for (int64_t i = 0; i < count; ++i)
    for (int c = 0; c < channels; ++c) {
      const double d = values[i * stride + c] - sum[size_t(c)];
      squares[size_t(c)] += d * d;
    }
  for (int c = 0; c < channels; ++c) out[c] = PlaneMoments{count, sum[size_t(c)], squares[size_t(c)]};
}

std::vector<double> merge_plane_sums(const std::vector<double>& sums, int64_t planes, int channels, const Collectives* ranks,
                                     std::vector<double>& own) {
  own.assign(size_t(2 * channels), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int i = 0; i < 2 * channels; ++i) own[size_t(i)] += sums[size_t(p * 2 * channels + i)];
  if (!ranks) return own;
  std::vector<double> all(own.size() * size_t(ranks->size())), total(own.size(), 0.0);
  ranks->allgather(own.data(), sizeof(double) * own.size(), all.data());
  for (int r = 0; r < ranks->size(); ++r)
    for (size_t i = 0; i < own.size(); ++i) total[i] += all[size_t(r) * own.size() + i];
  return total;
}

std::vector<float> sum_blocks_in_order(const std::vector<float>& partials, int64_t blocks, int64_t count) {
  std::vector<float> total(size_t(count), 0.f);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* partial = partials.data() + b * count;
    for (int64_t i = 0; i < count; ++i) total[size_t(i)] += partial[i];
  }
  return total;
}

}  // namespace mdcsrn::cpu_fused
