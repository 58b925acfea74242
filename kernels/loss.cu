#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/loss.h"
#include "kernels/plane_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

struct LossLoader {
  LossKind kind;
  Tensor<const float> prediction, target;
  template <int W>
  MDCSRN_DEVICE void operator()(Sum<double>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> a = load_lanes<W>(prediction.plane(p.n, p.c) + s), b = load_lanes<W>(target.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) acc.push(loss_term(kind, a.v[k], b.v[k]));
  }
};

// One block: thread t merges partials [count t / T, count (t + 1) / T) in order, then the block's
// fixed tree merges the threads (deterministic; chains T times shorter than one thread's).
MDCSRN_KERNEL void finalize_mean_kernel(const Sum<double>* partials, int64_t count, double elements, float* result) {
  const int64_t threads = simt::block_threads(), t = simt::linear_thread();
  Sum<double> total;
  for (int64_t k = count * t / threads; k < count * (t + 1) / threads; ++k) total.merge(partials[k]);
  total = block_reduce(total, simt::shared<Sum<double>>(0, int((threads + 31) / 32)));
  if (t == 0) result[0] = float(total.value / elements);
}

simt::LaunchConfig finalize_launch(std::source_location where = std::source_location::current()) {
  return simt::LaunchConfig(simt::Dim3(1), simt::Dim3(kThreads), block_reduce_shared_bytes<Sum<double>>(), where);
}

MDCSRN_KERNEL void loss_backward_kernel(PlaneGrid g, LossKind kind, Tensor<const float> prediction, Tensor<const float> target,
                                        float scale, Tensor<float> dprediction, bool accumulate) {
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> a = load_lanes<W>(prediction.plane(p.n, p.c) + s), b = load_lanes<W>(target.plane(p.n, p.c) + s);
    float* out = dprediction.plane(p.n, p.c) + s;
    Lanes<W> d = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) store_grad(d.v[k], loss_grad(kind, a.v[k], b.v[k], scale), accumulate);
    store_lanes<W>(out, d);
  });
}

// One pass: the block's partial sum of the loss terms, and the gradient of every element.
MDCSRN_KERNEL void loss_forward_backward_kernel(PlaneGrid g, LossKind kind, Tensor<const float> prediction, Tensor<const float> target,
                                                float scale, Tensor<float> dprediction, bool accumulate, PartialLayout layout,
                                                Sum<double>* partials) {
  Sum<double> sum;
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> a = load_lanes<W>(prediction.plane(p.n, p.c) + s), b = load_lanes<W>(target.plane(p.n, p.c) + s);
    float* out = dprediction.plane(p.n, p.c) + s;
    Lanes<W> d = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) {
      sum.push(loss_term(kind, a.v[k], b.v[k]));
      store_grad(d.v[k], loss_grad(kind, a.v[k], b.v[k], scale), accumulate);
    }
    store_lanes<W>(out, d);
  });
  sum = block_reduce(sum, simt::shared<Sum<double>>(0, int((simt::block_threads() + 31) / 32)));
  if (simt::linear_thread() == 0) partials[layout.index(g.plane(), g.part(), g.parts())] = sum;
}

// A single block: the scores are one per sample.
MDCSRN_KERNEL void mean_score_kernel(const float* scores, int64_t count, float* result) {
  Sum<double> sum;
  for (int64_t i = simt::linear_thread(); i < count; i += simt::block_threads()) sum.push(double(scores[i]));
  sum = block_reduce(sum, simt::shared<Sum<double>>(0, int((simt::block_threads() + 31) / 32)));
  if (simt::linear_thread() == 0) result[0] = float(sum.value / double(count));
}

MDCSRN_KERNEL void fill_grad_kernel(float* d, int64_t count, float value, bool accumulate) {
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) store_grad(d[i], value, accumulate);
}

}  // namespace

template <class Context>
void loss_forward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float* loss) {
  require_planes("loss_forward", prediction, target);
  const int parts = reduction_parts(prediction.shape);
  const int64_t partials_count = prediction.shape.n * prediction.shape.c * parts;
  auto* partials = static_cast<Sum<double>*>(ctx.scratch(sizeof(Sum<double>) * size_t(partials_count)));
  simt::launch(ctx, plane_launch(prediction.shape, parts, block_reduce_shared_bytes<Sum<double>>()),
               plane_partials_kernel<Sum<double>, LossLoader>, plane_grid(prediction.shape, vector_width(prediction, target)),
               LossLoader{kind, prediction, target}, PartialLayout{prediction.shape.n, prediction.shape.c, false}, partials);
  simt::launch(ctx, finalize_launch(), finalize_mean_kernel, partials, partials_count, double(prediction.numel()), loss);
}

template <class Context>
void loss_backward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float weight,
                   Tensor<float> dprediction, GradMode mode) {
  require_planes("loss_backward", prediction, target, dprediction);
  const int width = vector_width(prediction, target, dprediction);
  simt::launch(ctx, plane_launch(prediction.shape, elementwise_parts(prediction.shape, width)), loss_backward_kernel,
               plane_grid(prediction.shape, width), kind, prediction, target, weight / float(prediction.numel()), dprediction,
               mode == GradMode::Accumulate);
}

template <class Context>
void loss_forward_backward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float weight,
                           float* loss, Tensor<float> dprediction, GradMode mode) {
  require_planes("loss_forward_backward", prediction, target, dprediction);
  const int parts = reduction_parts(prediction.shape);
  const int64_t partials_count = prediction.shape.n * prediction.shape.c * parts;
  auto* partials = static_cast<Sum<double>*>(ctx.scratch(sizeof(Sum<double>) * size_t(partials_count)));
  simt::launch(ctx, plane_launch(prediction.shape, parts, block_reduce_shared_bytes<Sum<double>>()), loss_forward_backward_kernel,
               plane_grid(prediction.shape, vector_width(prediction, target, dprediction)), kind, prediction, target,
               weight / float(prediction.numel()), dprediction, mode == GradMode::Accumulate,
               PartialLayout{prediction.shape.n, prediction.shape.c, false}, partials);
  simt::launch(ctx, finalize_launch(), finalize_mean_kernel, partials, partials_count, double(prediction.numel()), loss);
}

template <class Context>
void mean_score(Context& ctx, const float* scores, int64_t count, float* result) {
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(1), simt::Dim3(kThreads), block_reduce_shared_bytes<Sum<double>>()),
               mean_score_kernel, scores, count, result);
}

template <class Context>
void mean_score_backward(Context& ctx, int64_t count, float weight, float* dscores, GradMode mode) {
  simt::launch(ctx, flat_launch(count), fill_grad_kernel, dscores, count, weight / float(count), mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void loss_forward(TargetContext&, LossKind, Tensor<const float>, Tensor<const float>, float*);
template void loss_backward(TargetContext&, LossKind, Tensor<const float>, Tensor<const float>, float, Tensor<float>, GradMode);
template void loss_forward_backward(TargetContext&, LossKind, Tensor<const float>, Tensor<const float>, float, float*, Tensor<float>,
                                    GradMode);
template void mean_score(TargetContext&, const float*, int64_t, float*);
template void mean_score_backward(TargetContext&, int64_t, float, float*, GradMode);

}  // namespace mdcsrn::gpu
