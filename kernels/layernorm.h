#pragma once
// LayerNorm over (C, D, H, W) of each sample with a per-element affine of shape [C, D, H, W], as
// torch.nn.LayerNorm([C, D, H, W]) in the WGAN critic.
#include <vector>

#include "kernels/common.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"

namespace mdcsrn {

// The backward of layernorm_backward's input gradient (for a loss on a network's input gradient,
// the WGAN gradient penalty). Per sample, with xhat = (x - mean) * invstd, u = dy * weight and
// J = invstd * (I - 1/N - xhat xhat^T / N) the normalisation's (symmetric) Jacobian, backward
// computes dx = J u. Given ddx = dL/d(dx):
//   dL/dx      = -invstd^2 * (xhat * (a - 3 b c) + c * (ddx - mean(ddx)) + b * (u - mean(u))),
//   dL/d(dy)   = weight * t,   dL/d(weight) = sum over the batch of dy * t,   with t = J ddx,
// where a = mean(ddx * u) - mean(ddx) mean(u), b = mean(ddx * xhat), c = mean(u * xhat); the bias
// does not enter dx. Means run over the sample's N = C * D * H * W elements.
template <class T>
struct LayerNormSecondOrderSums {
  T ddx = 0, u = 0, ddx_u = 0, ddx_xhat = 0, u_xhat = 0;

  MDCSRN_HD void push(T ddx_value, T u_value, T xhat) {
    ddx += ddx_value;
    u += u_value;
    ddx_u += ddx_value * u_value;
    ddx_xhat += ddx_value * xhat;
    u_xhat += u_value * xhat;
  }
  MDCSRN_HD void merge(const LayerNormSecondOrderSums& o) {
    ddx += o.ddx, u += o.u, ddx_u += o.ddx_u, ddx_xhat += o.ddx_xhat, u_xhat += o.u_xhat;
  }
  MDCSRN_HD LayerNormSecondOrderSums result() const { return *this; }
  MDCSRN_HD LayerNormSecondOrderSums means(T count) const { return {ddx / count, u / count, ddx_u / count, ddx_xhat / count, u_xhat / count}; }
};

// dL/dx of one element, from the sample's means (LayerNormSecondOrderSums::means).
template <class T>
MDCSRN_HD T layernorm_second_order_input_grad(const LayerNormSecondOrderSums<T>& m, T ddx, T u, T xhat, T invstd) {
  const T a = m.ddx_u - m.ddx * m.u;
  return -invstd * invstd * (xhat * (a - T(3) * m.ddx_xhat * m.u_xhat) + m.u_xhat * (ddx - m.ddx) + m.ddx_xhat * (u - m.u));
}

// t = (J ddx) of one element.
template <class T>
MDCSRN_HD T layernorm_second_order_t(const LayerNormSecondOrderSums<T>& m, T ddx, T xhat, T invstd) {
  return normalized_input_grad(ddx, xhat, invstd, m.ddx, m.ddx_xhat);
}

namespace cpu {

// Element e = c * D*H*W + s of the affine parameters pairs with channel c, position s.
template <class T>
void layernorm_forward(Tensor<const T> x, const T* weight, const T* bias, T eps, T* save_mean, T* save_invstd,
                       Tensor<T> y) {
  require_planes("layernorm_forward", x, y);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      Moments<SumType<T>> sample;
      for (int64_t c = 0; c < channels; ++c) sample.merge(plane_moments(x.plane(n, c), spatial));
      save_mean[n] = T(sample.mean);
      save_invstd[n] = inverse_std(T(sample.variance()), eps);
      for (int64_t c = 0; c < channels; ++c) {
        const T* xp = x.plane(n, c);
        T* yp = y.plane(n, c);
        const T* wp = weight + c * spatial;
        const T* bp = bias + c * spatial;
        for (int64_t s = 0; s < spatial; ++s) yp[s] = normalize_affine(xp[s], save_mean[n], save_invstd[n], wp[s], bp[s]);
      }
    }
  });
}

template <class T>
void layernorm_backward(Tensor<const T> x, Tensor<const T> dy, const T* weight, const T* save_mean, const T* save_invstd,
                        Tensor<T> dx, T* dweight, T* dbias, GradMode grad_mode) {
  require_planes("layernorm_backward", x, dy, dx);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const T count = T(channels * spatial);
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T mean = save_mean[n], invstd = save_invstd[n];
      SumPair<SumType<T>> sums;  // sum(g), sum(g * xhat) with g = dy * weight
      for (int64_t c = 0; c < channels; ++c) {
        SumPair<SumType<T>> plane;
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        const T* wp = weight + c * spatial;
        for (int64_t s = 0; s < spatial; ++s) {
          const T g = dyp[s] * wp[s];
          plane.push(g, g * (xp[s] - mean) * invstd);
        }
        sums.merge(plane);
      }
      const T mean_g = T(sums.first / count), mean_g_xhat = T(sums.second / count);
      for (int64_t c = 0; c < channels; ++c) {
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        const T* wp = weight + c * spatial;
        T* dxp = dx.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s)
          store_grad(dxp[s], normalized_input_grad(dyp[s] * wp[s], (xp[s] - mean) * invstd, invstd, mean_g, mean_g_xhat),
                     accumulate);
      }
    }
  });
  // Affine gradients sum over the batch, element by element.
  parallel_for(channels * spatial, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      const int64_t c = e / spatial, s = e % spatial;
      SumType<T> dw = 0, db = 0;
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T d = dy.plane(n, c)[s];
        dw += d * (x.plane(n, c)[s] - save_mean[n]) * save_invstd[n];
        db += d;
      }
      store_grad(dweight[e], T(dw), accumulate);
      store_grad(dbias[e], T(db), accumulate);
    }
  });
}


// x_grad and dy_grad are written; weight_grad is written or added to under weight_mode.
template <class T>
void layernorm_double_backward(Tensor<const T> x, Tensor<const T> dy, const T* weight, const T* save_mean, const T* save_invstd,
                               Tensor<const T> ddx, Tensor<T> x_grad, Tensor<T> dy_grad, T* weight_grad, GradMode weight_mode) {
  require_planes("layernorm_double_backward", x, dy, ddx, x_grad, dy_grad);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  std::vector<LayerNormSecondOrderSums<T>> means(static_cast<size_t>(x.shape.n));
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T mean = save_mean[n], invstd = save_invstd[n];
      LayerNormSecondOrderSums<SumType<T>> sums;
      for (int64_t c = 0; c < channels; ++c) {
        LayerNormSecondOrderSums<SumType<T>> plane;
        const T *xp = x.plane(n, c), *dyp = dy.plane(n, c), *ddxp = ddx.plane(n, c), *wp = weight + c * spatial;
        for (int64_t s = 0; s < spatial; ++s) plane.push(ddxp[s], dyp[s] * wp[s], (xp[s] - mean) * invstd);
        sums.merge(plane);
      }
      const LayerNormSecondOrderSums<SumType<T>> m = sums.means(SumType<T>(channels * spatial));
      const LayerNormSecondOrderSums<T> mt{T(m.ddx), T(m.u), T(m.ddx_u), T(m.ddx_xhat), T(m.u_xhat)};
      means[size_t(n)] = mt;
      for (int64_t c = 0; c < channels; ++c) {
        const T *xp = x.plane(n, c), *dyp = dy.plane(n, c), *ddxp = ddx.plane(n, c), *wp = weight + c * spatial;
        T *xg = x_grad.plane(n, c), *dyg = dy_grad.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s) {
          const T xhat = (xp[s] - mean) * invstd;
          xg[s] = layernorm_second_order_input_grad(mt, ddxp[s], dyp[s] * wp[s], xhat, invstd);
          dyg[s] = wp[s] * layernorm_second_order_t(mt, ddxp[s], xhat, invstd);
        }
      }
    }
  });
  const bool accumulate = weight_mode == GradMode::Accumulate;
  parallel_for(channels * spatial, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      const int64_t c = e / spatial, s = e % spatial;
      SumType<T> dw = 0;
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T xhat = (x.plane(n, c)[s] - save_mean[n]) * save_invstd[n];
        dw += dy.plane(n, c)[s] * layernorm_second_order_t(means[size_t(n)], ddx.plane(n, c)[s], xhat, save_invstd[n]);
      }
      store_grad(weight_grad[e], T(dw), accumulate);
    }
  });
}

}  // namespace cpu

// The GPU kernels (layernorm.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void layernorm_forward(Context& ctx, Tensor<const float> x, const float* weight, const float* bias, float eps, float* save_mean,
                       float* save_invstd, Tensor<float> y);
template <class Context>
void layernorm_backward(Context& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* save_mean,
                        const float* save_invstd, Tensor<float> dx, float* dweight, float* dbias, GradMode grad_mode);
template <class Context>
void layernorm_double_backward(Context& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* save_mean,
                               const float* save_invstd, Tensor<const float> ddx, Tensor<float> x_grad, Tensor<float> dy_grad,
                               float* weight_grad, GradMode weight_mode);
}  // namespace gpu

}  // namespace mdcsrn
