// Spectral normalisation's kernels (see spectral_norm.h). The matrices are small (the critic's
// widest is 512 x 13,824): one block a row for W x, one thread a column for W^T x, single blocks
// for norms and sigma, and the backward's <G, W / sigma> over a fixed number of blocks merged in
// order, so that results do not depend on the device.
#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/reduce.h"
#include "kernels/simt/launch.h"
#include "kernels/spectral_norm.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_DEVICE simt::Shared<Sum<double>> per_warp_sums() { return simt::shared<Sum<double>>(0, int((simt::block_threads() + 31) / 32)); }

// Block i: out[i] = sum over j of w[i][j] x[j].
MDCSRN_KERNEL void rows_dot_kernel(const float* w, int64_t columns, const float* x, double* out) {
  const int64_t i = simt::block_idx().x;
  Sum<double> sum;
  for (int64_t j = simt::linear_thread(); j < columns; j += simt::block_threads()) sum.push(double(w[i * columns + j]) * double(x[j]));
  sum = block_reduce(sum, per_warp_sums());
  if (simt::linear_thread() == 0) out[i] = sum.value;
}

// Thread j: out[j] = sum over i of w[i][j] x[i], rows in order.
MDCSRN_KERNEL void columns_dot_kernel(const float* w, int64_t rows, int64_t columns, const float* x, double* out) {
  for (int64_t j = flat_thread(); j < columns; j += flat_stride()) {
    double sum = 0;
    for (int64_t i = 0; i < rows; ++i) sum += double(w[i * columns + j]) * double(x[i]);
    out[j] = sum;
  }
}

// One block: *result = sum over i of a[i] b[i] (b in double, a in float or double).
template <class A>
MDCSRN_KERNEL void dot_kernel(const A* a, const double* b, int64_t count, double* result) {
  Sum<double> sum;
  for (int64_t i = simt::linear_thread(); i < count; i += simt::block_threads()) sum.push(double(a[i]) * b[i]);
  sum = block_reduce(sum, per_warp_sums());
  if (simt::linear_thread() == 0) *result = sum.value;
}

MDCSRN_KERNEL void normalise_kernel(const double* x, const double* squares, int64_t count, float* out) {
  const double norm = fmax(sqrt(*squares), kSpectralNormEps);
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) out[i] = float(x[i] / norm);
}

MDCSRN_KERNEL void store_sigma_kernel(const double* sum, float* sigma) { *sigma = float(*sum); }

MDCSRN_KERNEL void divide_kernel(const float* w, int64_t count, const float* sigma, float* out) {
  const float s = *sigma;
  for (int64_t i = flat_thread(); i < count; i += flat_stride()) out[i] = w[i] / s;
}

// Block b of `blocks`: the partial sum of grad x normalised over its contiguous share.
MDCSRN_KERNEL void gradient_dot_partials_kernel(const float* grad, const float* normalised, int64_t count, double* partials) {
  const int64_t blocks = simt::grid_dim().x, b = simt::block_idx().x;
  const int64_t begin = count * b / blocks, end = count * (b + 1) / blocks;
  Sum<double> sum;
  for (int64_t i = begin + simt::linear_thread(); i < end; i += simt::block_threads()) sum.push(double(grad[i]) * double(normalised[i]));
  sum = block_reduce(sum, per_warp_sums());
  if (simt::linear_thread() == 0) partials[b] = sum.value;
}

MDCSRN_KERNEL void sum_partials_kernel(const double* partials, int64_t count, double* result) {
  if (flat_thread() != 0) return;
  double total = 0;
  for (int64_t k = 0; k < count; ++k) total += partials[k];
  *result = total;
}

MDCSRN_KERNEL void normalise_backward_kernel(float* grad, int64_t rows, int64_t columns, const float* u, const float* v, const float* sigma,
                                             const double* dot) {
  const double d = *dot, s = *sigma;
  for (int64_t k = flat_thread(); k < rows * columns; k += flat_stride()) {
    const int64_t i = k / columns, j = k % columns;
    grad[k] = float((double(grad[k]) - d * double(u[i]) * double(v[j])) / s);
  }
}

simt::LaunchConfig one_block() { return simt::LaunchConfig(simt::Dim3(1), simt::Dim3(kThreads), block_reduce_shared_bytes<Sum<double>>()); }
simt::LaunchConfig block_per_row(int64_t rows) {
  return simt::LaunchConfig(simt::Dim3(unsigned(rows)), simt::Dim3(kThreads), block_reduce_shared_bytes<Sum<double>>());
}

// The backward's partials: a few thousand elements a block, at most 256 blocks.
int64_t dot_blocks(int64_t count) { return std::clamp<int64_t>(count / (kThreads * 16), 1, 256); }

}  // namespace

template <class Context>
void spectral_power_iteration(Context& ctx, const float* w, int64_t rows, int64_t columns, float* u, float* v, int iterations) {
  auto* t = static_cast<double*>(ctx.scratch(sizeof(double) * size_t(rows + columns + 1)));
  double* s = t + rows;
  double* squares = s + columns;
  for (int it = 0; it < iterations; ++it) {
    simt::launch(ctx, block_per_row(rows), rows_dot_kernel, w, columns, static_cast<const float*>(v), t);
    simt::launch(ctx, one_block(), dot_kernel<double>, static_cast<const double*>(t), static_cast<const double*>(t), rows, squares);
    simt::launch(ctx, flat_launch(rows), normalise_kernel, static_cast<const double*>(t), static_cast<const double*>(squares), rows, u);
    simt::launch(ctx, flat_launch(columns), columns_dot_kernel, w, rows, columns, static_cast<const float*>(u), s);
    simt::launch(ctx, one_block(), dot_kernel<double>, static_cast<const double*>(s), static_cast<const double*>(s), columns, squares);
    simt::launch(ctx, flat_launch(columns), normalise_kernel, static_cast<const double*>(s), static_cast<const double*>(squares), columns,
                 v);
  }
}

template <class Context>
void spectral_normalise(Context& ctx, const float* w, int64_t rows, int64_t columns, const float* u, const float* v, float* sigma,
                        float* normalised) {
  auto* t = static_cast<double*>(ctx.scratch(sizeof(double) * size_t(rows + 1)));
  double* total = t + rows;
  simt::launch(ctx, block_per_row(rows), rows_dot_kernel, w, columns, v, t);
  simt::launch(ctx, one_block(), dot_kernel<float>, u, static_cast<const double*>(t), rows, total);
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(1), simt::Dim3(1)), store_sigma_kernel, static_cast<const double*>(total), sigma);
  simt::launch(ctx, flat_launch(rows * columns, 4), divide_kernel, w, rows * columns, static_cast<const float*>(sigma), normalised);
}

template <class Context>
void spectral_normalise_backward(Context& ctx, const float* normalised, int64_t rows, int64_t columns, const float* u, const float* v,
                                 const float* sigma, float* grad) {
  const int64_t count = rows * columns, blocks = dot_blocks(count);
  auto* partials = static_cast<double*>(ctx.scratch(sizeof(double) * size_t(blocks + 1)));
  double* dot = partials + blocks;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(blocks)), simt::Dim3(kThreads), block_reduce_shared_bytes<Sum<double>>()),
               gradient_dot_partials_kernel, static_cast<const float*>(grad), normalised, count, partials);
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(1), simt::Dim3(1)), sum_partials_kernel, static_cast<const double*>(partials), blocks, dot);
  simt::launch(ctx, flat_launch(count, 4), normalise_backward_kernel, grad, rows, columns, u, v, sigma, static_cast<const double*>(dot));
}

using simt::TargetContext;
template void spectral_power_iteration(TargetContext&, const float*, int64_t, int64_t, float*, float*, int);
template void spectral_normalise(TargetContext&, const float*, int64_t, int64_t, const float*, const float*, float*, float*);
template void spectral_normalise_backward(TargetContext&, const float*, int64_t, int64_t, const float*, const float*, const float*, float*);

}  // namespace mdcsrn::gpu
