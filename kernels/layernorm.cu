#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/layernorm.h"
#include "kernels/plane_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// The affine parameters of channel c, position s: element c * D*H*W + s.
template <class T>
MDCSRN_DEVICE T* affine_at(T* p, const PlaneCoords& plane, int32_t spatial, int32_t s) {
  return p + plane.c * int64_t(spatial) + s;
}

struct MomentsLoader {
  Tensor<const float> x;
  template <int W>
  MDCSRN_DEVICE void operator()(ShiftedMoments<float>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) acc.push(v.v[k]);
  }
};

// One thread per sample merges the sample's partials (its channels in order).
MDCSRN_KERNEL void finalize_statistics_kernel(const Moments<float>* partials, int64_t per_sample, float eps, float* save_mean,
                                              float* save_invstd, int64_t samples) {
  const int64_t n = flat_thread();
  if (n >= samples) return;
  Moments<float> m;
  for (int64_t k = 0; k < per_sample; ++k) m.merge(partials[n * per_sample + k]);
  save_mean[n] = m.mean;
  save_invstd[n] = inverse_std(m.variance(), eps);
}

MDCSRN_KERNEL void apply_kernel(PlaneGrid g, Tensor<const float> x, const float* weight, const float* bias, const float* mean,
                                const float* invstd, Tensor<float> y) {
  const PlaneCoords plane = g.plane();
  const float m = mean[plane.n], r = invstd[plane.n];
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    const Lanes<W> w = load_lanes<W>(affine_at(weight, p, g.spatial, s)), b = load_lanes<W>(affine_at(bias, p, g.spatial, s));
    for (int k = 0; k < W; ++k) v.v[k] = normalize_affine(v.v[k], m, r, w.v[k], b.v[k]);
    store_lanes<W>(y.plane(p.n, p.c) + s, v);
  });
}

// Sums of g and g * xhat, g = dy * weight.
struct GradSumsLoader {
  Tensor<const float> x, dy;
  const float* weight;
  const float* mean;
  const float* invstd;
  int32_t spatial;
  template <int W>
  MDCSRN_DEVICE void operator()(SumPair<float>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    const Lanes<W> w = load_lanes<W>(affine_at(weight, p, spatial, s));
    for (int k = 0; k < W; ++k) {
      const float g = dyv.v[k] * w.v[k];
      acc.push(g, g * (xv.v[k] - mean[p.n]) * invstd[p.n]);
    }
  }
};

MDCSRN_KERNEL void finalize_means_kernel(const SumPair<float>* partials, int64_t per_sample, float count, SumPair<float>* means,
                                         int64_t samples) {
  const int64_t n = flat_thread();
  if (n >= samples) return;
  SumPair<float> s;
  for (int64_t k = 0; k < per_sample; ++k) s.merge(partials[n * per_sample + k]);
  means[n] = SumPair<float>{s.first / count, s.second / count};
}

MDCSRN_KERNEL void input_grad_kernel(PlaneGrid g, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* mean,
                                     const float* invstd, const SumPair<float>* means, Tensor<float> dx, bool accumulate) {
  const PlaneCoords plane = g.plane();
  const float m = mean[plane.n], r = invstd[plane.n];
  const SumPair<float> mg = means[plane.n];
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    const Lanes<W> w = load_lanes<W>(affine_at(weight, p, g.spatial, s));
    float* out = dx.plane(p.n, p.c) + s;
    Lanes<W> result = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k)
      store_grad(result.v[k], normalized_input_grad(dyv.v[k] * w.v[k], (xv.v[k] - m) * r, r, mg.first, mg.second), accumulate);
    store_lanes<W>(out, result);
  });
}

// A grid over the planes of one sample: each element sums its affine gradients over the batch.
MDCSRN_KERNEL void affine_grad_kernel(PlaneGrid g, Tensor<const float> x, Tensor<const float> dy, const float* mean,
                                      const float* invstd, float* dweight, float* dbias, bool accumulate) {
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> dw{}, db{};
    for (int64_t n = 0; n < x.shape.n; ++n) {
      const Lanes<W> xv = load_lanes<W>(x.plane(n, p.c) + s), dyv = load_lanes<W>(dy.plane(n, p.c) + s);
      for (int k = 0; k < W; ++k) {
        dw.v[k] += dyv.v[k] * (xv.v[k] - mean[n]) * invstd[n];
        db.v[k] += dyv.v[k];
      }
    }
    float* dw_out = affine_at(dweight, p, g.spatial, s);
    float* db_out = affine_at(dbias, p, g.spatial, s);
    Lanes<W> w = accumulate ? load_lanes<W>(dw_out) : Lanes<W>{}, b = accumulate ? load_lanes<W>(db_out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) {
      store_grad(w.v[k], dw.v[k], accumulate);
      store_grad(b.v[k], db.v[k], accumulate);
    }
    store_lanes<W>(dw_out, w);
    store_lanes<W>(db_out, b);
  });
}

// The sums of LayerNormSecondOrderSums, u = dy * weight.
struct SecondOrderSumsLoader {
  Tensor<const float> x, dy, ddx;
  const float* weight;
  const float* mean;
  const float* invstd;
  int32_t spatial;
  template <int W>
  MDCSRN_DEVICE void operator()(LayerNormSecondOrderSums<float>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    const Lanes<W> ddxv = load_lanes<W>(ddx.plane(p.n, p.c) + s), w = load_lanes<W>(affine_at(weight, p, spatial, s));
    for (int k = 0; k < W; ++k) acc.push(ddxv.v[k], dyv.v[k] * w.v[k], (xv.v[k] - mean[p.n]) * invstd[p.n]);
  }
};

MDCSRN_KERNEL void finalize_second_order_kernel(const LayerNormSecondOrderSums<float>* partials, int64_t per_sample, float count,
                                                LayerNormSecondOrderSums<float>* means, int64_t samples) {
  const int64_t n = flat_thread();
  if (n >= samples) return;
  LayerNormSecondOrderSums<float> s;
  for (int64_t k = 0; k < per_sample; ++k) s.merge(partials[n * per_sample + k]);
  means[n] = s.means(count);
}

MDCSRN_KERNEL void second_order_input_grads_kernel(PlaneGrid g, Tensor<const float> x, Tensor<const float> dy, Tensor<const float> ddx,
                                                   const float* weight, const float* mean, const float* invstd,
                                                   const LayerNormSecondOrderSums<float>* means, Tensor<float> x_grad,
                                                   Tensor<float> dy_grad) {
  const PlaneCoords plane = g.plane();
  const float m = mean[plane.n], r = invstd[plane.n];
  const LayerNormSecondOrderSums<float> sm = means[plane.n];
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    const Lanes<W> ddxv = load_lanes<W>(ddx.plane(p.n, p.c) + s), w = load_lanes<W>(affine_at(weight, p, g.spatial, s));
    Lanes<W> xg, dyg;
    for (int k = 0; k < W; ++k) {
      const float xhat = (xv.v[k] - m) * r;
      xg.v[k] = layernorm_second_order_input_grad(sm, ddxv.v[k], dyv.v[k] * w.v[k], xhat, r);
      dyg.v[k] = w.v[k] * layernorm_second_order_t(sm, ddxv.v[k], xhat, r);
    }
    store_lanes<W>(x_grad.plane(p.n, p.c) + s, xg);
    store_lanes<W>(dy_grad.plane(p.n, p.c) + s, dyg);
  });
}

// A grid over the planes of one sample: each element sums dy * t over the batch.
MDCSRN_KERNEL void second_order_weight_grad_kernel(PlaneGrid g, Tensor<const float> x, Tensor<const float> dy, Tensor<const float> ddx,
                                                   const float* mean, const float* invstd, const LayerNormSecondOrderSums<float>* means,
                                                   float* weight_grad, bool accumulate) {
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> dw{};
    for (int64_t n = 0; n < x.shape.n; ++n) {
      const Lanes<W> xv = load_lanes<W>(x.plane(n, p.c) + s), dyv = load_lanes<W>(dy.plane(n, p.c) + s);
      const Lanes<W> ddxv = load_lanes<W>(ddx.plane(n, p.c) + s);
      for (int k = 0; k < W; ++k)
        dw.v[k] += dyv.v[k] * layernorm_second_order_t(means[n], ddxv.v[k], (xv.v[k] - mean[n]) * invstd[n], invstd[n]);
    }
    float* out = affine_at(weight_grad, p, g.spatial, s);
    Lanes<W> result = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) store_grad(result.v[k], dw.v[k], accumulate);
    store_lanes<W>(out, result);
  });
}

// The affine parameters as a tensor of one sample, so their alignment counts in vector_width.
Tensor<const float> affine_view(const float* p, const Shape5& s) { return Tensor<const float>(p, Shape5{1, s.c, s.d, s.h, s.w}); }

}  // namespace

template <class Context>
void layernorm_forward(Context& ctx, Tensor<const float> x, const float* weight, const float* bias, float eps, float* save_mean,
                       float* save_invstd, Tensor<float> y) {
  require_planes("layernorm_forward", x, y);
  const int parts = reduction_parts(x.shape);
  auto* partials = static_cast<Moments<float>*>(ctx.scratch(sizeof(Moments<float>) * size_t(x.shape.n * x.shape.c * parts)));
  simt::launch(ctx, plane_launch(x.shape, parts, block_reduce_shared_bytes<Moments<float>>()),
               plane_partials_kernel<ShiftedMoments<float>, MomentsLoader>, plane_grid(x.shape, vector_width(x)), MomentsLoader{x},
               PartialLayout{x.shape.n, x.shape.c, false}, partials);
  simt::launch(ctx, flat_launch(x.shape.n), finalize_statistics_kernel, partials, x.shape.c * parts, eps, save_mean,
               save_invstd, x.shape.n);
  const int width = vector_width(x, y, affine_view(weight, x.shape), affine_view(bias, x.shape));
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), apply_kernel, plane_grid(x.shape, width), x, weight, bias,
               save_mean, save_invstd, y);
}

template <class Context>
void layernorm_backward(Context& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* save_mean,
                        const float* save_invstd, Tensor<float> dx, float* dweight, float* dbias, GradMode grad_mode) {
  require_planes("layernorm_backward", x, dy, dx);
  const int64_t samples = x.shape.n, per_sample = x.shape.c * x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const int parts = reduction_parts(x.shape);
  const int64_t partial_count = samples * x.shape.c * parts;
  auto* partials = static_cast<SumPair<float>*>(ctx.scratch(sizeof(SumPair<float>) * size_t(partial_count + samples)));
  SumPair<float>* means = partials + partial_count;
  const Tensor<const float> w = affine_view(weight, x.shape);
  simt::launch(ctx, plane_launch(x.shape, parts, block_reduce_shared_bytes<SumPair<float>>()),
               plane_partials_kernel<SumPair<float>, GradSumsLoader>, plane_grid(x.shape, vector_width(x, dy, w)),
               GradSumsLoader{x, dy, weight, save_mean, save_invstd, int32_t(x.shape.spatial())},
               PartialLayout{samples, x.shape.c, false}, partials);
  simt::launch(ctx, flat_launch(samples), finalize_means_kernel, partials, x.shape.c * parts, float(per_sample), means, samples);
  const int width = vector_width(x, dy, dx, w);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), input_grad_kernel, plane_grid(x.shape, width), x, dy,
               weight, save_mean, save_invstd, means, dx, accumulate);
  const Shape5 one{1, x.shape.c, x.shape.d, x.shape.h, x.shape.w};
  const int affine_width = vector_width(x, dy, w, affine_view(dweight, x.shape), affine_view(dbias, x.shape));
  simt::launch(ctx, plane_launch(one, elementwise_parts(one, affine_width)), affine_grad_kernel, plane_grid(one, affine_width), x, dy,
               save_mean, save_invstd, dweight, dbias, accumulate);
}

template <class Context>
void layernorm_double_backward(Context& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* save_mean,
                               const float* save_invstd, Tensor<const float> ddx, Tensor<float> x_grad, Tensor<float> dy_grad,
                               float* weight_grad, GradMode weight_mode) {
  require_planes("layernorm_double_backward", x, dy, ddx, x_grad, dy_grad);
  using Sums = LayerNormSecondOrderSums<float>;
  const int64_t samples = x.shape.n, per_sample = x.shape.c * x.shape.spatial();
  const int parts = reduction_parts(x.shape);
  const int64_t partial_count = samples * x.shape.c * parts;
  auto* partials = static_cast<Sums*>(ctx.scratch(sizeof(Sums) * size_t(partial_count + samples)));
  Sums* means = partials + partial_count;
  const Tensor<const float> w = affine_view(weight, x.shape);
  simt::launch(ctx, plane_launch(x.shape, parts, block_reduce_shared_bytes<Sums>()), plane_partials_kernel<Sums, SecondOrderSumsLoader>,
               plane_grid(x.shape, vector_width(x, dy, ddx, w)),
               SecondOrderSumsLoader{x, dy, ddx, weight, save_mean, save_invstd, int32_t(x.shape.spatial())},
               PartialLayout{samples, x.shape.c, false}, partials);
  simt::launch(ctx, flat_launch(samples), finalize_second_order_kernel, partials, x.shape.c * parts, float(per_sample), means, samples);
  const int width = vector_width(x, dy, ddx, x_grad, dy_grad, w);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), second_order_input_grads_kernel, plane_grid(x.shape, width),
               x, dy, ddx, weight, save_mean, save_invstd, means, x_grad, dy_grad);
  const Shape5 one{1, x.shape.c, x.shape.d, x.shape.h, x.shape.w};
  const int affine_width = vector_width(x, dy, ddx, affine_view(weight_grad, x.shape));
  simt::launch(ctx, plane_launch(one, elementwise_parts(one, affine_width)), second_order_weight_grad_kernel, plane_grid(one, affine_width),
               x, dy, ddx, save_mean, save_invstd, means, weight_grad, weight_mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void layernorm_forward(TargetContext&, Tensor<const float>, const float*, const float*, float, float*, float*, Tensor<float>);
template void layernorm_backward(TargetContext&, Tensor<const float>, Tensor<const float>, const float*, const float*, const float*,
                                 Tensor<float>, float*, float*, GradMode);

template void layernorm_double_backward(TargetContext&, Tensor<const float>, Tensor<const float>, const float*, const float*, const float*,
                                        Tensor<const float>, Tensor<float>, Tensor<float>, float*, GradMode);

}  // namespace mdcsrn::gpu
