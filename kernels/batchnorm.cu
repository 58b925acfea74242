#include "kernels/batchnorm.h"
#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/plane_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

struct MomentsLoader {
  Tensor<const float> x;
  template <int W>
  MDCSRN_DEVICE void operator()(ShiftedMoments<float>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) acc.push(v.v[k]);
  }
};

// Block c merges channel c's items [first, last) of the gathered partials, numbered rank by rank
// (each rank's [channels][per_channel] partials one after the other): thread t takes a contiguous
// share in order and the block's fixed tree merges the threads. The numbering is global sample
// order, so the result is the same whatever the number of ranks; chains are kThreads times
// shorter than one thread's walk through a channel's n x parts partials.
template <class Partial>
MDCSRN_DEVICE Partial merge_channel_partials(const Partial* partials, int64_t channels, int64_t per_channel, int64_t first, int64_t last,
                                             simt::Shared<Partial> per_warp) {
  const int64_t c = simt::block_idx().x, threads = simt::block_threads(), t = simt::linear_thread(), items = last - first;
  Partial merged{};
  for (int64_t i = first + items * t / threads; i < first + items * (t + 1) / threads; ++i)
    merged.merge(partials[((i / per_channel) * channels + c) * per_channel + i % per_channel]);
  return block_reduce(merged, per_warp);
}

simt::LaunchConfig per_channel_launch(int64_t channels, size_t shared_bytes, std::source_location where = std::source_location::current()) {
  return simt::LaunchConfig(simt::Dim3(unsigned(channels)), simt::Dim3(kThreads), shared_bytes, where);
}

MDCSRN_KERNEL void finalize_statistics_kernel(const Moments<float>* partials, int ranks, int64_t per_channel, float eps, float* mean,
                                              float* var, float* invstd, int64_t channels) {
  const int64_t c = simt::block_idx().x;
  const Moments<float> m = merge_channel_partials(partials, channels, per_channel, 0, ranks * per_channel,
                                                  simt::shared<Moments<float>>(0, int((simt::block_threads() + 31) / 32)));
  if (simt::linear_thread() != 0) return;
  mean[c] = m.mean;
  var[c] = m.variance();
  invstd[c] = inverse_std(var[c], eps);
}

MDCSRN_KERNEL void update_running_kernel(const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                                         float* running_var, int64_t channels) {
  const int64_t c = flat_thread();
  if (c >= channels) return;
  running_mean[c] = running_average(running_mean[c], mean[c], momentum);
  running_var[c] = running_average(running_var[c], unbiased_variance(var[c], count), momentum);
}

MDCSRN_KERNEL void running_statistics_kernel(const float* running_mean, const float* running_var, float eps, float* mean,
                                             float* invstd, int64_t channels) {
  const int64_t c = flat_thread();
  if (c >= channels) return;
  mean[c] = running_mean[c];
  invstd[c] = inverse_std(running_var[c], eps);
}

// The per-channel constants of one plane, read once per thread.
struct ChannelAffine {
  float mean, invstd, gamma, beta;
  MDCSRN_DEVICE ChannelAffine(const BatchNormAffine<float>& bn, int64_t c)
      : mean(bn.mean[c]), invstd(bn.invstd[c]), gamma(bn.gamma[c]), beta(bn.beta[c]) {}
  MDCSRN_DEVICE float normalized(float x) const { return normalize_affine(x, mean, invstd, gamma, beta); }
  MDCSRN_DEVICE float xhat(float x) const { return (x - mean) * invstd; }
};

MDCSRN_KERNEL void forward_kernel(PlaneGrid g, Tensor<const float> x, BatchNormAffine<float> bn, ActivationSpec a, Tensor<float> y) {
  const ChannelAffine k(bn, g.plane().c);
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    for (int i = 0; i < W; ++i) v.v[i] = mdcsrn::activation_forward(a, k.normalized(v.v[i]));
    store_lanes<W>(y.plane(p.n, p.c) + s, v);
  });
}

// Sums of g and g * xhat, g = dL/d(BN output) = act'(BN(x)) dy.
struct GradSumsLoader {
  Tensor<const float> x, dy;
  BatchNormAffine<float> bn;
  ActivationSpec a;
  template <int W>
  MDCSRN_DEVICE void operator()(SumPair<float>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const ChannelAffine k(bn, p.c);
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    for (int i = 0; i < W; ++i) {
      const float g = mdcsrn::activation_backward(a, k.normalized(xv.v[i]), dyv.v[i]);
      acc.push(g, g * k.xhat(xv.v[i]));
    }
  }
};

// Per channel (one block each): dgamma, dbeta (from this rank's partials), and the two means the
// input gradient subtracts (from every rank's, gathered rank by rank; count is the whole batch's).
MDCSRN_KERNEL void finalize_grads_kernel(const SumPair<float>* partials, int ranks, int rank, int64_t per_channel, const float* gamma,
                                         float count, bool batch_stats, float* dgamma, float* dbeta, bool accumulate, SumPair<float>* means,
                                         int64_t channels) {
  const int64_t c = simt::block_idx().x;
  const int warps = int((simt::block_threads() + 31) / 32);
  const SumPair<float> sums = merge_channel_partials(partials, channels, per_channel, 0, ranks * per_channel, simt::shared<SumPair<float>>(0, warps));
  const SumPair<float> own = merge_channel_partials(partials, channels, per_channel, rank * per_channel, (rank + 1) * per_channel,
                                                    simt::shared<SumPair<float>>(sizeof(SumPair<float>) * size_t(warps), warps));
  if (simt::linear_thread() != 0) return;
  store_grad(dbeta[c], own.first, accumulate);
  store_grad(dgamma[c], own.second, accumulate);
  means[c] = SumPair<float>{batch_stats ? gamma[c] * sums.first / count : 0.f, batch_stats ? gamma[c] * sums.second / count : 0.f};
}

MDCSRN_KERNEL void input_grad_kernel(PlaneGrid g, Tensor<const float> x, Tensor<const float> dy, BatchNormAffine<float> bn,
                                     ActivationSpec a, const SumPair<float>* means, Tensor<float> dx, bool accumulate) {
  const PlaneCoords plane = g.plane();
  const ChannelAffine k(bn, plane.c);
  const SumPair<float> m = means[plane.c];
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    float* out = dx.plane(p.n, p.c) + s;
    Lanes<W> result = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int i = 0; i < W; ++i) {
      const float grad = mdcsrn::activation_backward(a, k.normalized(xv.v[i]), dyv.v[i]);
      store_grad(result.v[i], normalized_input_grad(k.gamma * grad, k.xhat(xv.v[i]), k.invstd, m.first, m.second), accumulate);
    }
    store_lanes<W>(out, result);
  });
}

}  // namespace

namespace {

void require_same_memory(const Collectives* ranks, MemoryKind memory, const char* op) {
  MDCSRN_ASSERT(!ranks || ranks->memory() == memory, std::string(op) + ": the ranks' collectives are for another kind of memory");
}

}  // namespace

template <class Context>
void batchnorm_statistics(Context& ctx, Tensor<const float> x, float eps, float* mean, float* var, float* invstd, const Collectives* ranks) {
  require_planes("batchnorm_statistics", x);
  require_same_memory(ranks, Context::memory, "batchnorm_statistics");
  const int parts = reduction_parts(x.shape);
  const PartialLayout layout{x.shape.n, x.shape.c, true};
  const int world = ranks ? ranks->size() : 1;
  // This rank's partials then, with ranks (even one), every rank's as gathered.
  const int64_t count = x.shape.n * x.shape.c * parts;
  auto* partials = static_cast<Moments<float>*>(ctx.scratch(sizeof(Moments<float>) * size_t(count * (ranks ? 1 + world : 1))));
  Moments<float>* gathered = ranks ? partials + count : partials;
  simt::launch(ctx, plane_launch(x.shape, parts, block_reduce_shared_bytes<Moments<float>>()),
               plane_partials_kernel<ShiftedMoments<float>, MomentsLoader>, plane_grid(x.shape, vector_width(x)), MomentsLoader{x},
               layout, partials);
  if (ranks) ranks->allgather(partials, sizeof(Moments<float>) * size_t(count), gathered);
  simt::launch(ctx, per_channel_launch(x.shape.c, block_reduce_shared_bytes<Moments<float>>()), finalize_statistics_kernel, gathered, world,
               x.shape.n * parts, eps, mean, var, invstd, x.shape.c);
}

template <class Context>
void batchnorm_update_running(Context& ctx, const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                              float* running_var, int64_t channels) {
  simt::launch(ctx, flat_launch(channels), update_running_kernel, mean, var, count, momentum, running_mean, running_var,
               channels);
}

template <class Context>
void batchnorm_running_statistics(Context& ctx, const float* running_mean, const float* running_var, float eps, float* mean,
                                  float* invstd, int64_t channels) {
  simt::launch(ctx, flat_launch(channels), running_statistics_kernel, running_mean, running_var, eps, mean, invstd, channels);
}

template <class Context>
void batchnorm_activation_forward(Context& ctx, Tensor<const float> x, const BatchNormAffine<float>& bn, const ActivationSpec& a,
                                  Tensor<float> y) {
  require_planes("batchnorm_activation_forward", x, y);
  const int width = vector_width(x, y);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), forward_kernel, plane_grid(x.shape, width), x, bn, a, y);
}

template <class Context>
void batchnorm_activation_backward(Context& ctx, NormMode mode, Tensor<const float> x, Tensor<const float> dy,
                                   const BatchNormAffine<float>& bn, const ActivationSpec& a, Tensor<float> dx, float* dgamma,
                                   float* dbeta, GradMode grad_mode, const Collectives* ranks) {
  require_planes("batchnorm_activation_backward", x, dy, dx);
  require_same_memory(ranks, Context::memory, "batchnorm_activation_backward");
  if (mode != NormMode::Train) ranks = nullptr;  // eval statistics do not depend on the batch
  const int world = ranks ? ranks->size() : 1;
  const int64_t channels = x.shape.c, count = x.shape.n * x.shape.spatial() * world;
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const int parts = reduction_parts(x.shape);
  // The means, then this rank's partials and, with ranks (even one), every rank's as gathered.
  const int64_t partial_count = x.shape.n * channels * parts;
  auto* means = static_cast<SumPair<float>*>(ctx.scratch(sizeof(SumPair<float>) * size_t(channels + partial_count * (ranks ? 1 + world : 1))));
  SumPair<float>* partials = means + channels;
  SumPair<float>* gathered = ranks ? partials + partial_count : partials;
  simt::launch(ctx, plane_launch(x.shape, parts, block_reduce_shared_bytes<SumPair<float>>()),
               plane_partials_kernel<SumPair<float>, GradSumsLoader>, plane_grid(x.shape, vector_width(x, dy)),
               GradSumsLoader{x, dy, bn, a}, PartialLayout{x.shape.n, channels, true}, partials);
  if (ranks) ranks->allgather(partials, sizeof(SumPair<float>) * size_t(partial_count), gathered);
  simt::launch(ctx, per_channel_launch(channels, 2 * block_reduce_shared_bytes<SumPair<float>>()), finalize_grads_kernel, gathered, world, ranks ? ranks->rank() : 0, x.shape.n * parts,
               bn.gamma, float(count), mode == NormMode::Train, dgamma, dbeta, accumulate, means, channels);
  const int width = vector_width(x, dy, dx);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), input_grad_kernel, plane_grid(x.shape, width), x, dy, bn,
               a, means, dx, accumulate);
}

using simt::TargetContext;
template void batchnorm_statistics(TargetContext&, Tensor<const float>, float, float*, float*, float*, const Collectives*);
template void batchnorm_update_running(TargetContext&, const float*, const float*, int64_t, float, float*, float*, int64_t);
template void batchnorm_running_statistics(TargetContext&, const float*, const float*, float, float*, float*, int64_t);
template void batchnorm_activation_forward(TargetContext&, Tensor<const float>, const BatchNormAffine<float>&, const ActivationSpec&,
                                           Tensor<float>);
template void batchnorm_activation_backward(TargetContext&, NormMode, Tensor<const float>, Tensor<const float>,
                                            const BatchNormAffine<float>&, const ActivationSpec&, Tensor<float>, float*, float*,
                                            GradMode, const Collectives*);

}  // namespace mdcsrn::gpu
