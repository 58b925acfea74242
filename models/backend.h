#pragma once
// The ops a network needs, behind one interface per device, so each model is written once: the
// CPU reference in float or double (finite-difference tests), and the GPU in float. BatchNorm's
// batch-coupled ops take the ranks of a data-parallel run (collectives over the backend's memory),
// or none for one process.
#include <cstring>

#include "engine/memory.h"
#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/channel_fold.h"
#include "kernels/conv3d.h"
#include "kernels/gradient_penalty.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "kernels/pooling.h"
#include "kernels/spectral_norm.h"
#include "kernels/window_pooling.h"
#include "kernels/simt/emulator.h"
#include "models/sync_batchnorm.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn {

template <class T>
struct CpuBackend {
  using Scalar = T;
  static constexpr MemoryKind memory = MemoryKind::Host;

  void zero(T* p, int64_t count) const { std::memset(p, 0, sizeof(T) * size_t(count)); }
  void conv_forward(const ConvParams& p, Tensor<const T> x, const T* w, const T* b, Tensor<T> y) const {
    cpu::conv3d_forward<T>(p, x, w, b, y);
  }
  void conv_backward_data(const ConvParams& p, const T* w, Tensor<const T> dy, Tensor<T> dx, GradMode m) const {
    cpu::conv3d_backward_data<T>(p, w, dy, dx, m);
  }
  void conv_backward_weight(const ConvParams& p, Tensor<const T> x, Tensor<const T> dy, T* dw, T* db, GradMode m) const {
    cpu::conv3d_backward_weight<T>(p, x, dy, dw, db, m);
  }
  void batchnorm_statistics(Tensor<const T> x, T eps, T* mean, T* var, T* invstd, const Collectives* ranks = nullptr) const {
    if (ranks) return cpu::synced_batchnorm_statistics<T>(*ranks, x, eps, mean, var, invstd);
    cpu::batchnorm_statistics<T>(x, eps, mean, var, invstd);
  }
  void batchnorm_update_running(const T* mean, const T* var, int64_t count, T momentum, T* running_mean, T* running_var,
                                int64_t channels) const {
    cpu::batchnorm_update_running<T>(mean, var, count, momentum, running_mean, running_var, channels);
  }
  void batchnorm_running_statistics(const T* running_mean, const T* running_var, T eps, T* mean, T* invstd, int64_t channels) const {
    cpu::batchnorm_running_statistics<T>(running_mean, running_var, eps, mean, invstd, channels);
  }
  void batchnorm_activation_forward(Tensor<const T> x, const BatchNormAffine<T>& bn, const ActivationSpec& a, Tensor<T> y) const {
    cpu::batchnorm_activation_forward<T>(x, bn, a, y);
  }
  void batchnorm_activation_backward(NormMode mode, Tensor<const T> x, Tensor<const T> dy, const BatchNormAffine<T>& bn,
                                     const ActivationSpec& a, Tensor<T> dx, T* dgamma, T* dbeta, GradMode m,
                                     const Collectives* ranks = nullptr) const {
    if (ranks && mode == NormMode::Train) return cpu::synced_batchnorm_activation_backward<T>(*ranks, x, dy, bn, a, dx, dgamma, dbeta, m);
    cpu::batchnorm_activation_backward<T>(mode, x, dy, bn, a, dx, dgamma, dbeta, m);
  }
  void activation_forward(const ActivationSpec& a, Tensor<const T> x, Tensor<T> y) const { cpu::activation_forward<T>(a, x, y); }
  void activation_backward(const ActivationSpec& a, Tensor<const T> x, Tensor<const T> dy, Tensor<T> dx, GradMode m) const {
    cpu::activation_backward<T>(a, x, dy, dx, m);
  }
  void fold_weights(const T* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, T* folded) const {
    cpu::fold_weights<T>(w, map, outputs, concat, distinct, folded);
  }
  void loss_forward(LossKind kind, Tensor<const T> prediction, Tensor<const T> target, T* result) const {
    *result = cpu::loss_forward<T>(kind, prediction, target);
  }
  void loss_backward(LossKind kind, Tensor<const T> prediction, Tensor<const T> target, T weight, Tensor<T> d, GradMode m) const {
    cpu::loss_backward<T>(kind, prediction, target, weight, d, m);
  }
  void loss_forward_backward(LossKind kind, Tensor<const T> prediction, Tensor<const T> target, T weight, T* result, Tensor<T> d,
                             GradMode m) const {
    *result = cpu::loss_forward<T>(kind, prediction, target);
    cpu::loss_backward<T>(kind, prediction, target, weight, d, m);
  }
  void adam(const AdamStep& s, T* params, const T* grads, T* m, T* v, int64_t count) const { cpu::adam<T>(s, params, grads, m, v, count); }
  void layernorm_forward(Tensor<const T> x, const T* weight, const T* bias, T eps, T* mean, T* invstd, Tensor<T> y) const {
    cpu::layernorm_forward<T>(x, weight, bias, eps, mean, invstd, y);
  }
  void layernorm_backward(Tensor<const T> x, Tensor<const T> dy, const T* weight, const T* mean, const T* invstd, Tensor<T> dx,
                          T* dweight, T* dbias, GradMode m) const {
    cpu::layernorm_backward<T>(x, dy, weight, mean, invstd, dx, dweight, dbias, m);
  }
  void layernorm_double_backward(Tensor<const T> x, Tensor<const T> dy, const T* weight, const T* mean, const T* invstd, Tensor<const T> ddx,
                                 Tensor<T> x_grad, Tensor<T> dy_grad, T* weight_grad, GradMode m) const {
    cpu::layernorm_double_backward<T>(x, dy, weight, mean, invstd, ddx, x_grad, dy_grad, weight_grad, m);
  }
  void penalty_interpolates(uint64_t seed, int64_t first_sample, Tensor<const T> fake, Tensor<const T> real, Tensor<T> out) const {
    cpu::penalty_interpolates<T>(seed, first_sample, fake, real, out);
  }
  void gradient_penalty(Tensor<const T> g, T lambda, T share, T* penalty, Tensor<T> g_grad) const {
    cpu::gradient_penalty<T>(g, lambda, share, penalty, g_grad);
  }
  void global_avg_pool_forward(Tensor<const T> x, Tensor<T> y) const { cpu::global_avg_pool_forward<T>(x, y); }
  void global_avg_pool_backward(Tensor<const T> dy, Tensor<T> dx, GradMode m) const { cpu::global_avg_pool_backward<T>(dy, dx, m); }
  void max_pool_forward(const PoolWindow& w, Tensor<const T> x, Tensor<T> y, int32_t* winners) const {
    cpu::max_pool_forward<T>(w, x, y, winners);
  }
  void max_pool_backward(const PoolWindow& w, const int32_t* winners, Tensor<const T> dy, Tensor<T> dx, GradMode m) const {
    cpu::max_pool_backward<T>(w, winners, dy, dx, m);
  }
  void avg_pool_forward(const PoolWindow& w, Tensor<const T> x, Tensor<T> y) const { cpu::avg_pool_forward<T>(w, x, y); }
  void avg_pool_backward(const PoolWindow& w, Tensor<const T> dy, Tensor<T> dx, GradMode m) const { cpu::avg_pool_backward<T>(w, dy, dx, m); }
  void linear_forward(Tensor<const T> x, const T* w, const T* b, Tensor<T> y) const { cpu::linear_forward<T>(x, w, b, y); }
  void linear_backward_data(const T* w, Tensor<const T> dy, Tensor<T> dx, GradMode m) const { cpu::linear_backward_data<T>(w, dy, dx, m); }
  void linear_backward_weight(Tensor<const T> x, Tensor<const T> dy, T* dw, T* db, GradMode m) const {
    cpu::linear_backward_weight<T>(x, dy, dw, db, m);
  }
  void clip(T* params, int64_t count, T limit) const { cpu::clip<T>(params, count, limit); }
  void spectral_power_iteration(const T* w, int64_t rows, int64_t columns, T* u, T* v, int iterations) const {
    cpu::spectral_power_iteration<T>(w, rows, columns, u, v, iterations);
  }
  void spectral_normalise(const T* w, int64_t rows, int64_t columns, const T* u, const T* v, T* sigma, T* normalised) const {
    cpu::spectral_normalise<T>(w, rows, columns, u, v, sigma, normalised);
  }
  void spectral_normalise_backward(const T* normalised, int64_t rows, int64_t columns, const T* u, const T* v, const T* sigma,
                                   T* grad) const {
    cpu::spectral_normalise_backward<T>(normalised, rows, columns, u, v, sigma, grad);
  }
  void mean_score(const T* scores, int64_t count, T* result) const { *result = cpu::mean_score<T>(scores, count); }
  void mean_score_backward(int64_t count, T weight, T* dscores, GradMode m) const { cpu::mean_score_backward<T>(count, weight, dscores, m); }
  void synchronize() const {}
  void unfold_grads(const T* df, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, T* dw, GradMode m) const {
    cpu::unfold_grads<T>(df, map, outputs, concat, distinct, dw, m);
  }
};

// The GPU kernels over a device context: a CudaContext on a device (cuDNN convolutions), or a
// simt::Emulator, which runs the same kernel sources on the CPU with the CPU convolutions standing
// in for cuDNN, so that CI exercises everything but the library calls.
template <class Context>
struct GpuBackendOn {
  using Scalar = float;
  static constexpr MemoryKind memory = Context::memory;
  Context* ctx = nullptr;

  void zero(float* p, int64_t count) const { ctx->zero(p, sizeof(float) * size_t(count)); }
  void conv_forward(const ConvParams& p, Tensor<const float> x, const float* w, const float* b, Tensor<float> y) const {
    gpu::conv3d_forward(*ctx, p, x, w, b, y);
  }
  void conv_backward_data(const ConvParams& p, const float* w, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::conv3d_backward_data(*ctx, p, w, dy, dx, m);
  }
  void conv_backward_weight(const ConvParams& p, Tensor<const float> x, Tensor<const float> dy, float* dw, float* db, GradMode m) const {
    gpu::conv3d_backward_weight(*ctx, p, x, dy, dw, db, m);
  }
  void batchnorm_statistics(Tensor<const float> x, float eps, float* mean, float* var, float* invstd,
                            const Collectives* ranks = nullptr) const {
    gpu::batchnorm_statistics(*ctx, x, eps, mean, var, invstd, ranks);
  }
  void batchnorm_update_running(const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                                float* running_var, int64_t channels) const {
    gpu::batchnorm_update_running(*ctx, mean, var, count, momentum, running_mean, running_var, channels);
  }
  void batchnorm_running_statistics(const float* running_mean, const float* running_var, float eps, float* mean, float* invstd,
                                    int64_t channels) const {
    gpu::batchnorm_running_statistics(*ctx, running_mean, running_var, eps, mean, invstd, channels);
  }
  void batchnorm_activation_forward(Tensor<const float> x, const BatchNormAffine<float>& bn, const ActivationSpec& a,
                                    Tensor<float> y) const {
    gpu::batchnorm_activation_forward(*ctx, x, bn, a, y);
  }
  void batchnorm_activation_backward(NormMode mode, Tensor<const float> x, Tensor<const float> dy, const BatchNormAffine<float>& bn,
                                     const ActivationSpec& a, Tensor<float> dx, float* dgamma, float* dbeta, GradMode m,
                                     const Collectives* ranks = nullptr) const {
    gpu::batchnorm_activation_backward(*ctx, mode, x, dy, bn, a, dx, dgamma, dbeta, m, ranks);
  }
  void activation_forward(const ActivationSpec& a, Tensor<const float> x, Tensor<float> y) const { gpu::activation_forward(*ctx, a, x, y); }
  void activation_backward(const ActivationSpec& a, Tensor<const float> x, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::activation_backward(*ctx, a, x, dy, dx, m);
  }
  void fold_weights(const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded) const {
    gpu::fold_weights(*ctx, w, map, outputs, concat, distinct, folded);
  }
  void loss_forward(LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float* result) const {
    gpu::loss_forward(*ctx, kind, prediction, target, result);
  }
  void loss_backward(LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float weight, Tensor<float> d,
                     GradMode m) const {
    gpu::loss_backward(*ctx, kind, prediction, target, weight, d, m);
  }
  void loss_forward_backward(LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float weight, float* result,
                             Tensor<float> d, GradMode m) const {
    gpu::loss_forward_backward(*ctx, kind, prediction, target, weight, result, d, m);
  }
  void adam(const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count) const {
    gpu::adam(*ctx, s, params, grads, m, v, count);
  }
  void layernorm_forward(Tensor<const float> x, const float* weight, const float* bias, float eps, float* mean, float* invstd,
                         Tensor<float> y) const {
    gpu::layernorm_forward(*ctx, x, weight, bias, eps, mean, invstd, y);
  }
  void layernorm_backward(Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* mean, const float* invstd,
                          Tensor<float> dx, float* dweight, float* dbias, GradMode m) const {
    gpu::layernorm_backward(*ctx, x, dy, weight, mean, invstd, dx, dweight, dbias, m);
  }
  void layernorm_double_backward(Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* mean, const float* invstd,
                                 Tensor<const float> ddx, Tensor<float> x_grad, Tensor<float> dy_grad, float* weight_grad, GradMode m) const {
    gpu::layernorm_double_backward(*ctx, x, dy, weight, mean, invstd, ddx, x_grad, dy_grad, weight_grad, m);
  }
  void penalty_interpolates(uint64_t seed, int64_t first_sample, Tensor<const float> fake, Tensor<const float> real,
                            Tensor<float> out) const {
    gpu::penalty_interpolates(*ctx, seed, first_sample, fake, real, out);
  }
  void gradient_penalty(Tensor<const float> g, float lambda, float share, float* penalty, Tensor<float> g_grad) const {
    gpu::gradient_penalty(*ctx, g, lambda, share, penalty, g_grad);
  }
  void global_avg_pool_forward(Tensor<const float> x, Tensor<float> y) const { gpu::global_avg_pool_forward(*ctx, x, y); }
  void global_avg_pool_backward(Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::global_avg_pool_backward(*ctx, dy, dx, m);
  }
  void max_pool_forward(const PoolWindow& w, Tensor<const float> x, Tensor<float> y, int32_t* winners) const {
    gpu::max_pool_forward(*ctx, w, x, y, winners);
  }
  void max_pool_backward(const PoolWindow& w, const int32_t* winners, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::max_pool_backward(*ctx, w, winners, dy, dx, m);
  }
  void avg_pool_forward(const PoolWindow& w, Tensor<const float> x, Tensor<float> y) const { gpu::avg_pool_forward(*ctx, w, x, y); }
  void avg_pool_backward(const PoolWindow& w, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::avg_pool_backward(*ctx, w, dy, dx, m);
  }
  void linear_forward(Tensor<const float> x, const float* w, const float* b, Tensor<float> y) const { gpu::linear_forward(*ctx, x, w, b, y); }
  void linear_backward_data(const float* w, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    gpu::linear_backward_data(*ctx, w, dy, dx, m);
  }
  void linear_backward_weight(Tensor<const float> x, Tensor<const float> dy, float* dw, float* db, GradMode m) const {
    gpu::linear_backward_weight(*ctx, x, dy, dw, db, m);
  }
  void clip(float* params, int64_t count, float limit) const { gpu::clip(*ctx, params, count, limit); }
  void spectral_power_iteration(const float* w, int64_t rows, int64_t columns, float* u, float* v, int iterations) const {
    gpu::spectral_power_iteration(*ctx, w, rows, columns, u, v, iterations);
  }
  void spectral_normalise(const float* w, int64_t rows, int64_t columns, const float* u, const float* v, float* sigma,
                          float* normalised) const {
    gpu::spectral_normalise(*ctx, w, rows, columns, u, v, sigma, normalised);
  }
  void spectral_normalise_backward(const float* normalised, int64_t rows, int64_t columns, const float* u, const float* v,
                                   const float* sigma, float* grad) const {
    gpu::spectral_normalise_backward(*ctx, normalised, rows, columns, u, v, sigma, grad);
  }
  void mean_score(const float* scores, int64_t count, float* result) const { gpu::mean_score(*ctx, scores, count, result); }
  void mean_score_backward(int64_t count, float weight, float* dscores, GradMode m) const {
    gpu::mean_score_backward(*ctx, count, weight, dscores, m);
  }
  void synchronize() const { ctx->synchronize(); }
  void unfold_grads(const float* df, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* dw, GradMode m) const {
    gpu::unfold_grads(*ctx, df, map, outputs, concat, distinct, dw, m);
  }
};

using EmulatedGpuBackend = GpuBackendOn<simt::Emulator>;
#ifdef MDCSRN_HAVE_CUDA
using GpuBackend = GpuBackendOn<CudaContext>;
#endif

}  // namespace mdcsrn
