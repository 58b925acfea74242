// The gradient penalty's kernels (see gradient_penalty.h): the interpolates elementwise, the
// squared norms as per-sample partials in double merged in order by one thread (a batch has at
// most a few hundred samples), and the penalty's gradient elementwise.
#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/gradient_penalty.h"
#include "kernels/plane_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void interpolates_kernel(PlaneGrid g, uint64_t seed, int64_t first_sample, Tensor<const float> fake, Tensor<const float> real,
                                       Tensor<float> out) {
  const float e = penalty_mix(seed, first_sample + g.plane().n);
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> f = load_lanes<W>(fake.plane(p.n, p.c) + s), r = load_lanes<W>(real.plane(p.n, p.c) + s);
    Lanes<W> o;
    for (int k = 0; k < W; ++k) o.v[k] = e * r.v[k] + (1.f - e) * f.v[k];
    store_lanes<W>(out.plane(p.n, p.c) + s, o);
  });
}

struct SquaresLoader {
  Tensor<const float> g;
  template <int W>
  MDCSRN_DEVICE void operator()(Sum<double>& acc, const PlaneCoords& p, int32_t s, Width<W>) const {
    const Lanes<W> v = load_lanes<W>(g.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) acc.push(double(v.v[k]) * double(v.v[k]));
  }
};

// One thread: each sample's norm from its partials, its gradient factor, and the penalty.
MDCSRN_KERNEL void finalize_penalty_kernel(const Sum<double>* partials, int64_t per_sample, int64_t samples, float lambda, float share,
                                           float* factors, float* penalty) {
  if (flat_thread() != 0) return;
  double total = 0;
  for (int64_t n = 0; n < samples; ++n) {
    Sum<double> squares;
    for (int64_t k = 0; k < per_sample; ++k) squares.merge(partials[n * per_sample + k]);
    const double norm = sqrt(squares.value);
    total += (norm - 1) * (norm - 1);
    factors[n] = float(double(lambda) * double(share) / double(samples)) * penalty_gradient_factor<float>(norm);
  }
  *penalty = float(double(lambda) * total / double(samples));
}

MDCSRN_KERNEL void scale_kernel(PlaneGrid g, Tensor<const float> in, const float* factors, Tensor<float> out) {
  const float factor = factors[g.plane().n];
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> v = load_lanes<W>(in.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) v.v[k] *= factor;
    store_lanes<W>(out.plane(p.n, p.c) + s, v);
  });
}

}  // namespace

template <class Context>
void penalty_interpolates(Context& ctx, uint64_t seed, int64_t first_sample, Tensor<const float> fake, Tensor<const float> real,
                          Tensor<float> out) {
  require_planes("penalty_interpolates", fake, real, out);
  const int width = vector_width(fake, real, out);
  simt::launch(ctx, plane_launch(fake.shape, elementwise_parts(fake.shape, width)), interpolates_kernel, plane_grid(fake.shape, width),
               seed, first_sample, fake, real, out);
}

template <class Context>
void gradient_penalty(Context& ctx, Tensor<const float> g, float lambda, float share, float* penalty, Tensor<float> g_grad) {
  require_planes("gradient_penalty", g, g_grad);
  const int64_t samples = g.shape.n;
  const int parts = reduction_parts(g.shape);
  const int64_t partial_count = samples * g.shape.c * parts;
  auto* partials = static_cast<Sum<double>*>(ctx.scratch(sizeof(Sum<double>) * size_t(partial_count) + sizeof(float) * size_t(samples)));
  auto* factors = reinterpret_cast<float*>(partials + partial_count);
  simt::launch(ctx, plane_launch(g.shape, parts, block_reduce_shared_bytes<Sum<double>>()), plane_partials_kernel<Sum<double>, SquaresLoader>,
               plane_grid(g.shape, vector_width(g)), SquaresLoader{g}, PartialLayout{samples, g.shape.c, false}, partials);
  simt::launch(ctx, flat_launch(1), finalize_penalty_kernel, partials, g.shape.c * parts, samples, lambda, share, factors, penalty);
  const int width = vector_width(g, g_grad);
  simt::launch(ctx, plane_launch(g.shape, elementwise_parts(g.shape, width)), scale_kernel, plane_grid(g.shape, width), g, factors, g_grad);
}

using simt::TargetContext;
template void penalty_interpolates(TargetContext&, uint64_t, int64_t, Tensor<const float>, Tensor<const float>, Tensor<float>);
template void gradient_penalty(TargetContext&, Tensor<const float>, float, float, float*, Tensor<float>);

}  // namespace mdcsrn::gpu
