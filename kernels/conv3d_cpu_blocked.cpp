// The CPU convolutions for stride 1, register-blocked: every output row segment of CW voxels for
// CB output channels is accumulated in registers over the taps of 16 input channels at a time,
// then added to the row, so that each input vector loaded feeds CB multiply-adds. The input is
// zero-padded once per call, which turns every tap into an unconditional shifted read.
// Backward-data is the same kernel on the padded output gradient with the weights transposed and
// flipped; backward-weight accumulates per sample in a fixed order, so results do not depend on
// the number of threads.
//
// The kernels use GCC/Clang vector extensions; the float ones are also compiled for AVX2+FMA and
// chosen at run time when the CPU has them (engine/cpu_isa.h; MDCSRN_MAX_CPU_ISA=baseline keeps
// the default target's).
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu_isa.h"
#include "kernels/conv3d.h"

namespace mdcsrn::cpu::blocked {
namespace {

// Planes of one operand as the kernels read them: plane (n, c) starts at base + n * n_stride +
// c * c_stride and is a dense d x h x w block.
template <class T>
struct Planes {
  const T* base;
  int64_t n_stride, c_stride;
  int64_t d, h, w;
  const T* plane(int64_t n, int64_t c) const { return base + n * n_stride + c * c_stride; }
};

// A zero-padded dense copy of t (padding voxels on every side of each plane), or t itself when
// there is no padding. The copy lives in `storage`.
template <class T>
Planes<T> padded(Tensor<const T> t, int pad, std::vector<T>& storage) {
  const Shape5& s = t.shape;
  if (pad == 0) return Planes<T>{t.data, t.stride.n, t.stride.c, s.d, s.h, s.w};
  const int64_t d = s.d + 2 * pad, h = s.h + 2 * pad, w = s.w + 2 * pad, plane = d * h * w;
  storage.assign(size_t(s.n * s.c * plane), T(0));
  T* out = storage.data();
  parallel_for(s.n * s.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const T* src = t.plane(nc / s.c, nc % s.c);
      T* dst = out + nc * plane;
      for (int64_t z = 0; z < s.d; ++z)
        for (int64_t y = 0; y < s.h; ++y)
          std::memcpy(dst + ((z + pad) * h + y + pad) * w + pad, src + (z * s.h + y) * s.w, sizeof(T) * size_t(s.w));
    }
  });
  return Planes<T>{out, s.c * plane, plane, d, h, w};
}

// Vector arguments change the ABI between AVX and non-AVX builds; these helpers are internal and
// inlined, so the warning about it does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

// SIMD vectors of 32 bytes (GCC/Clang vector extensions): the compiler maps them to one AVX
// register, or two SSE registers when AVX is not enabled.
template <class T>
struct Simd {
  static constexpr int lanes = int(32 / sizeof(T));
  typedef T vec __attribute__((vector_size(32)));
  static vec load(const T* p) {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(T* p, vec v) { std::memcpy(p, &v, sizeof v); }
  static vec splat(T s) { return vec{} + s; }
};

// Input channels per register-held partial sum. One running fp32 sum over a 512-channel layer's
// 13,824 products was 1.9e-6 off double; partial sums of 16 channels added to the output row stay
// near the inputs' own rounding (3.6e-7, cpu.conv3d), for one extra load and add per 432 products.
constexpr int64_t kChannelChunk = 16;

// Output row segment y[n, co0 .. co0+CB, od, oh, ow0 .. ow0 + NV*lanes] (+)= the sum over ci and
// taps of weights[((ci * K + kd) * K + kh) * K + kw][co] * x[n, ci, od+kd, oh+kh, ow0+kw ..].
template <class T, int K, int CB, int NV>
inline void forward_tile(const Planes<T>& x, int64_t n, int64_t cin, const T* weights, int64_t cout, int64_t co0, int64_t od,
                         int64_t oh, int64_t ow0, T* const* out_rows, const T* bias, bool accumulate) {
  using S = Simd<T>;
  for (int64_t chunk = 0; chunk < cin; chunk += kChannelChunk) {
    const bool first = chunk == 0;
    typename S::vec acc[CB][NV];
    for (int c = 0; c < CB; ++c)
      for (int v = 0; v < NV; ++v)
        acc[c][v] = first && accumulate ? S::load(out_rows[c] + ow0 + v * S::lanes) : S::splat(first && bias ? bias[co0 + c] : T(0));
    for (int64_t ci = chunk; ci < std::min(cin, chunk + kChannelChunk); ++ci) {
      const T* xp = x.plane(n, ci);
      const T* wci = weights + ci * K * K * K * cout + co0;
      for (int kd = 0; kd < K; ++kd)
        for (int kh = 0; kh < K; ++kh) {
          const T* xr = xp + ((od + kd) * x.h + oh + kh) * x.w + ow0;
          const T* wr = wci + (kd * K + kh) * K * cout;
          for (int kw = 0; kw < K; ++kw) {
            typename S::vec xv[NV];
            for (int v = 0; v < NV; ++v) xv[v] = S::load(xr + kw + v * S::lanes);
            const T* wv = wr + kw * cout;
            for (int c = 0; c < CB; ++c) {
              const typename S::vec w = S::splat(wv[c]);
              for (int v = 0; v < NV; ++v) acc[c][v] += w * xv[v];
            }
          }
        }
    }
    for (int c = 0; c < CB; ++c)
      for (int v = 0; v < NV; ++v) {
        T* out = out_rows[c] + ow0 + v * S::lanes;
        S::store(out, first ? acc[c][v] : S::load(out) + acc[c][v]);
      }
  }
}

// The same for single voxels, for row ends shorter than a vector.
template <class T, int K, int CB>
inline void forward_voxel(const Planes<T>& x, int64_t n, int64_t cin, const T* weights, int64_t cout, int64_t co0, int64_t od,
                          int64_t oh, int64_t ow, T* const* out_rows, const T* bias, bool accumulate) {
  T acc[CB];
  for (int c = 0; c < CB; ++c) acc[c] = accumulate ? out_rows[c][ow] : (bias ? bias[co0 + c] : T(0));
  for (int64_t chunk = 0; chunk < cin; chunk += kChannelChunk) {
    T partial[CB] = {};
    for (int64_t ci = chunk; ci < std::min(cin, chunk + kChannelChunk); ++ci) {
      const T* xp = x.plane(n, ci);
      const T* wci = weights + ci * K * K * K * cout + co0;
      for (int kd = 0; kd < K; ++kd)
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const T xv = xp[((od + kd) * x.h + oh + kh) * x.w + ow + kw];
            const T* wv = wci + ((kd * K + kh) * K + kw) * cout;
            for (int c = 0; c < CB; ++c) partial[c] += wv[c] * xv;
          }
    }
    for (int c = 0; c < CB; ++c) acc[c] += partial[c];
  }
  for (int c = 0; c < CB; ++c) out_rows[c][ow] = acc[c];
}

template <class T, int K, int CB>
inline void forward_row(const Planes<T>& x, int64_t n, int64_t cin, const T* weights, int64_t cout, int64_t co0, int64_t od,
                        int64_t oh, int64_t width, T* const* out_rows, const T* bias, bool accumulate) {
  constexpr int lanes = Simd<T>::lanes;
  int64_t ow = 0;
  for (; ow + 2 * lanes <= width; ow += 2 * lanes)
    forward_tile<T, K, CB, 2>(x, n, cin, weights, cout, co0, od, oh, ow, out_rows, bias, accumulate);
  for (; ow + lanes <= width; ow += lanes) forward_tile<T, K, CB, 1>(x, n, cin, weights, cout, co0, od, oh, ow, out_rows, bias, accumulate);
  for (; ow < width; ++ow) forward_voxel<T, K, CB>(x, n, cin, weights, cout, co0, od, oh, ow, out_rows, bias, accumulate);
}

// Output planes of every (sample, plane) index in [begin, end), where index = n * out_depth + od.
template <class T, int K>
void forward_planes(const Planes<T>& x, int64_t cin, const T* weights, const T* bias, Tensor<T> y, bool accumulate, int64_t begin,
                    int64_t end) {
  const int64_t cout = y.shape.c;
  T* rows[4];
  for (int64_t index = begin; index < end; ++index) {
    const int64_t n = index / y.shape.d, od = index % y.shape.d;
    for (int64_t co0 = 0; co0 < cout;) {
      const int64_t block = cout - co0 >= 4 ? 4 : 1;
      for (int64_t oh = 0; oh < y.shape.h; ++oh) {
        for (int64_t c = 0; c < block; ++c) rows[c] = y.plane(n, co0 + c) + (od * y.shape.h + oh) * y.shape.w;
        if (block == 4) forward_row<T, K, 4>(x, n, cin, weights, cout, co0, od, oh, y.shape.w, rows, bias, accumulate);
        else forward_row<T, K, 1>(x, n, cin, weights, cout, co0, od, oh, y.shape.w, rows, bias, accumulate);
      }
      co0 += block;
    }
  }
}

// Sums over the rows of sample n of dy[co] * x[ci] shifted by (kd, kh, kw), for CB output
// channels at co0, one input channel and one (kd, kh): the K values of kw at once.
template <class T, int K, int CB>
inline void weight_rows(const Planes<T>& x, const Planes<T>& dy, int64_t n, int64_t ci, int64_t co0, int kd, int kh, T (&sums)[CB][K]) {
  using S = Simd<T>;
  typename S::vec acc[CB][K] = {};
  T tail[CB][K] = {};
  const T* xp = x.plane(n, ci);
  const int64_t full = dy.w / S::lanes * S::lanes;
  for (int64_t od = 0; od < dy.d; ++od)
    for (int64_t oh = 0; oh < dy.h; ++oh) {
      const T* xr = xp + ((od + kd) * x.h + oh + kh) * x.w;
      const T* g[CB];
      for (int c = 0; c < CB; ++c) g[c] = dy.plane(n, co0 + c) + (od * dy.h + oh) * dy.w;
      for (int64_t ow = 0; ow < full; ow += S::lanes) {
        typename S::vec xv[K];
        for (int kw = 0; kw < K; ++kw) xv[kw] = S::load(xr + ow + kw);
        for (int c = 0; c < CB; ++c) {
          const typename S::vec gv = S::load(g[c] + ow);
          for (int kw = 0; kw < K; ++kw) acc[c][kw] += gv * xv[kw];
        }
      }
      for (int64_t ow = full; ow < dy.w; ++ow)
        for (int c = 0; c < CB; ++c)
          for (int kw = 0; kw < K; ++kw) tail[c][kw] += g[c][ow] * xr[ow + kw];
    }
  for (int c = 0; c < CB; ++c)
    for (int kw = 0; kw < K; ++kw) {
      T total = tail[c][kw];
      for (int j = 0; j < S::lanes; ++j) total += acc[c][kw][j];
      sums[c][kw] = total;
    }
}

// Sample n's contribution to every weight gradient, written to partial ([cout][cin][K^3]).
template <class T, int K>
void weight_sample(const Planes<T>& x, const Planes<T>& dy, int64_t n, int64_t cin, int64_t cout, T* partial) {
  constexpr int taps = K * K * K;
  for (int64_t co0 = 0; co0 < cout;) {
    const int64_t block = cout - co0 >= 4 ? 4 : 1;
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int kd = 0; kd < K; ++kd)
        for (int kh = 0; kh < K; ++kh) {
          auto store = [&](const auto& sums, int64_t count) {
            for (int64_t c = 0; c < count; ++c)
              for (int kw = 0; kw < K; ++kw) partial[((co0 + c) * cin + ci) * taps + (kd * K + kh) * K + kw] = sums[c][kw];
          };
          if (block == 4) {
            T sums[4][K];
            weight_rows<T, K, 4>(x, dy, n, ci, co0, kd, kh, sums);
            store(sums, 4);
          } else {
            T sums[1][K];
            weight_rows<T, K, 1>(x, dy, n, ci, co0, kd, kh, sums);
            store(sums, 1);
          }
        }
    co0 += block;
  }
}

// The instruction-set-specific entry points: each runs one parallel chunk of work.
template <class T>
struct Kernels {
  static void forward(int kernel, const Planes<T>& x, int64_t cin, const T* w, const T* bias, Tensor<T> y, bool acc, int64_t b,
                      int64_t e) {
    if (kernel == 3) forward_planes<T, 3>(x, cin, w, bias, y, acc, b, e);
    else forward_planes<T, 1>(x, cin, w, bias, y, acc, b, e);
  }
  static void weight(int kernel, const Planes<T>& x, const Planes<T>& dy, int64_t n, int64_t cin, int64_t cout, T* partial) {
    if (kernel == 3) weight_sample<T, 3>(x, dy, n, cin, cout, partial);
    else weight_sample<T, 1>(x, dy, n, cin, cout, partial);
  }
};

#if defined(__x86_64__) && defined(__GNUC__)
#define MDCSRN_AVX2_KERNELS 1
__attribute__((target("avx2,fma"), flatten)) void forward_avx2(int kernel, const Planes<float>& x, int64_t cin, const float* w,
                                                               const float* bias, Tensor<float> y, bool acc, int64_t b, int64_t e) {
  Kernels<float>::forward(kernel, x, cin, w, bias, y, acc, b, e);
}
__attribute__((target("avx2,fma"), flatten)) void weight_avx2(int kernel, const Planes<float>& x, const Planes<float>& dy, int64_t n,
                                                              int64_t cin, int64_t cout, float* partial) {
  Kernels<float>::weight(kernel, x, dy, n, cin, cout, partial);
}
bool cpu_has_avx2() { return cpu_isa() >= CpuIsa::Avx2; }
#endif

template <class T>
void run_forward(int kernel, const Planes<T>& x, int64_t cin, const T* w, const T* bias, Tensor<T> y, bool acc, int64_t b, int64_t e) {
#ifdef MDCSRN_AVX2_KERNELS
  if constexpr (std::is_same_v<T, float>)
    if (cpu_has_avx2()) return forward_avx2(kernel, x, cin, w, bias, y, acc, b, e);
#endif
  Kernels<T>::forward(kernel, x, cin, w, bias, y, acc, b, e);
}

template <class T>
void run_weight(int kernel, const Planes<T>& x, const Planes<T>& dy, int64_t n, int64_t cin, int64_t cout, T* partial) {
#ifdef MDCSRN_AVX2_KERNELS
  if constexpr (std::is_same_v<T, float>)
    if (cpu_has_avx2()) return weight_avx2(kernel, x, dy, n, cin, cout, partial);
#endif
  Kernels<T>::weight(kernel, x, dy, n, cin, cout, partial);
}

// y (+)= conv(x_padded, weights) where weights are [cin][K^3][cout].
template <class T>
void forward_with(int kernel, const Planes<T>& x, int64_t cin, const T* weights, const T* bias, Tensor<T> y, bool accumulate) {
  const int64_t planes = y.shape.n * y.shape.d;
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) { run_forward<T>(kernel, x, cin, weights, bias, y, accumulate, begin, end); });
}

}  // namespace

template <class T>
void conv3d_forward(const ConvParams& p, Tensor<const T> x, const T* weight, const T* bias, Tensor<T> y) {
  const int64_t cin = x.shape.c, cout = y.shape.c, taps = int64_t(p.kernel) * p.kernel * p.kernel;
  std::vector<T> transposed(size_t(cin * taps * cout));  // [ci][tap][co]
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t t = 0; t < taps; ++t) transposed[size_t((ci * taps + t) * cout + co)] = weight[(co * cin + ci) * taps + t];
  thread_local std::vector<T> storage;
  forward_with<T>(p.kernel, padded(x, p.padding, storage), cin, transposed.data(), bias, y, false);
}

template <class T>
void conv3d_backward_data(const ConvParams& p, const T* weight, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  const int64_t cin = dx.shape.c, cout = dy.shape.c, taps = int64_t(p.kernel) * p.kernel * p.kernel;
  // dx = conv(dy padded by K-1-p, weights swapped in/out and flipped in space): [co][tap][ci].
  std::vector<T> flipped(size_t(cout * taps * cin));
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t t = 0; t < taps; ++t) flipped[size_t((co * taps + (taps - 1 - t)) * cin + ci)] = weight[(co * cin + ci) * taps + t];
  thread_local std::vector<T> storage;
  forward_with<T>(p.kernel, padded(dy, p.kernel - 1 - p.padding, storage), cout, flipped.data(), nullptr, dx,
                  mode == GradMode::Accumulate);
}

template <class T>
void conv3d_backward_weight(const ConvParams& p, Tensor<const T> x, Tensor<const T> dy, T* dweight, GradMode mode) {
  const int64_t cin = x.shape.c, cout = dy.shape.c, count = cout * cin * int64_t(p.kernel) * p.kernel * p.kernel;
  thread_local std::vector<T> storage;
  const Planes<T> xp = padded(x, p.padding, storage);
  const Planes<T> g{dy.data, dy.stride.n, dy.stride.c, dy.shape.d, dy.shape.h, dy.shape.w};
  std::vector<T> partials(size_t(x.shape.n * count));
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) run_weight<T>(p.kernel, xp, g, n, cin, cout, partials.data() + n * count);
  });
  const bool accumulate = mode == GradMode::Accumulate;
  parallel_for(count, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T total = 0;
      for (int64_t n = 0; n < x.shape.n; ++n) total += partials[size_t(n * count + i)];
      store_grad(dweight[i], total, accumulate);
    }
  });
}

#define MDCSRN_INSTANTIATE(T)                                                                                         \
  template void conv3d_forward<T>(const ConvParams&, Tensor<const T>, const T*, const T*, Tensor<T>);                 \
  template void conv3d_backward_data<T>(const ConvParams&, const T*, Tensor<const T>, Tensor<T>, GradMode);           \
  template void conv3d_backward_weight<T>(const ConvParams&, Tensor<const T>, Tensor<const T>, T*, GradMode);
MDCSRN_INSTANTIATE(float)
MDCSRN_INSTANTIATE(double)
#undef MDCSRN_INSTANTIATE

}  // namespace mdcsrn::cpu::blocked
