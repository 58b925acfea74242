// conv0 on the fused CPU path (kernels/fused/stem.h): the input patches' planes staged with their
// zero border, 32 outputs as two register tiles of 16 per row of voxels; its weight gradient with
// the three taps along a row as the tile's rows.
#include <algorithm>
#include <vector>

#include "engine/parallel.h"
#include "kernels/cpu_fused/kernels.h"
#include "kernels/cpu_fused/plane_statistics.h"
#include "kernels/cpu_fused/plane_window.h"

// Everything below is compiled for AVX2+FMA (the headers above are not) and runs only where
// cpu_fused_unsupported() is "": FastGenerator<CpuFusedContext> and the tests check it first.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "kernels/cpu_fused/microkernel.h"

namespace mdcsrn {
namespace cpu_fused {
namespace {

void stage_input(Tensor<const float> x, int n, int z, float* origin, int64_t row_stride) {
  const Shape5& s = x.shape;
  for (int y = 0; y < s.h; ++y) {
    const float* src = x.data + ((int64_t(n) * s.d + z) * s.h + y) * s.w;
    std::copy(src, src + s.w, origin + y * row_stride);
  }
}

void stem_planes(Tensor<const float> x, const float* weights, ChannelsLast out, int64_t begin, int64_t end, PlaneMoments* moments) {
  const VolumeShape s = out.shape;
  PlaneWindow window(s.h, s.w, 1);
  const int64_t rs = window.row_stride(), voxels = int64_t(s.h) * s.w;
  std::vector<float> values(size_t(voxels * kStemOutputs));
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, float* origin) { stage_input(x, nn, zz, origin, rs); });
    for (int y = 0; y < s.h; ++y)
      for (int half = 0; half < 2; ++half)
        for_row_tiles(s.w, [&]<int V>(int64_t x0) {
          const float *a[27], *w[27];
          for (int tap = 0; tap < 27; ++tap) {
            a[tap] = window.plane(tap / 9) + (y + tap / 3 % 3) * rs + x0 + tap % 3;
            w[tap] = weights + tap * kStemOutputs + 16 * half;
          }
          Accumulators<V> acc;
          acc.clear();
          rows_adjacent<V>(a, w, 27, 1, kStemOutputs, 1, acc);
          for (int j = 0; j < V; ++j) {
            float* o = values.data() + (int64_t(y) * s.w + x0 + j) * kStemOutputs + 16 * half;
            store8(o, round_bf16(acc.v[j][0]));
            store8(o + 8, round_bf16(acc.v[j][1]));
          }
        });
    const int64_t first = p * voxels;
    for (int64_t i = 0; i < voxels; ++i)
      for (int q = 0; q < kStemOutputs; q += 8) store_bf16x8(out.voxel(first + i) + q, load8(values.data() + i * kStemOutputs + q));
    plane_moments(values.data(), voxels, kStemOutputs, kStemOutputs, moments + p * kStemOutputs);
  }
}

// Adds planes [begin, end)'s sums to partial[27][32].
void stem_weight_gradient_planes(Tensor<const float> x, ChannelsLast f, const DeferredGradient& g, int64_t begin, int64_t end,
                                             float* partial) {
  const VolumeShape s = f.shape;
  PlaneWindow window(s.h, s.w, 1);
  const int64_t rs = window.row_stride(), voxels = int64_t(s.h) * s.w;
  std::vector<float> dy(size_t(voxels * kStemOutputs));
  std::vector<const float*> input_rows(size_t(s.h)), gradient_rows(size_t(s.h));
  for (int64_t p = begin; p < end; ++p) {
    const int n = int(p / s.d), z = int(p % s.d);
    window.centre(n, z, s.d, [&](int nn, int zz, float* origin) { stage_input(x, nn, zz, origin, rs); });
    for (int64_t i = 0; i < voxels; ++i) {
      const int64_t v = p * voxels + i;
      for (int q = 0; q < kStemOutputs; q += 8)
        store8(dy.data() + i * kStemOutputs + q, load8(g.b + q) * load_bf16x8(f.voxel(v) + q) + load8(g.raw_at(v, q)) + load8(g.c + q));
    }
    for (int kd = 0; kd < 3; ++kd)
      for (int kh = 0; kh < 3; ++kh)
        for (int half = 0; half < 2; ++half) {
          for (int y = 0; y < s.h; ++y) {
            input_rows[size_t(y)] = window.plane(kd) + (y + kh) * rs;
            gradient_rows[size_t(y)] = dy.data() + int64_t(y) * s.w * kStemOutputs + 16 * half;
          }
          Accumulators<3> acc;  // rows: taps kw = 0, 1, 2
          acc.clear();
          rows_adjacent<3>(input_rows.data(), gradient_rows.data(), s.h, 1, kStemOutputs, s.w, acc);
          for (int kw = 0; kw < 3; ++kw) {
            float* o = partial + ((kd * 3 + kh) * 3 + kw) * kStemOutputs + 16 * half;
            store8(o, load8(o) + acc.v[kw][0]);
            store8(o + 8, load8(o + 8) + acc.v[kw][1]);
          }
        }
  }
}

}  // namespace
}  // namespace cpu_fused

namespace gpu {

using namespace cpu_fused;

template <>
void stem_forward(CpuFusedContext&, Tensor<const float> x, const float* weights, ChannelsLast out, float eps, float* mean, float* var,
                  float* invstd, const Collectives* ranks) {
  MDCSRN_ASSERT(x.shape.c == 1 && x.contiguous(), "stem_forward: the input is [N, 1, D, H, W], dense");
  MDCSRN_ASSERT(out.shape.n == x.shape.n && out.shape.d == x.shape.d && out.shape.h == x.shape.h && out.shape.w == x.shape.w &&
                    out.stride % 8 == 0 && out.stride >= kStemOutputs,
                "stem_forward: the feature buffer does not match the input " + x.shape.str());
  std::vector<float> transposed(27 * kStemOutputs);  // [tap][output]
  for (int o = 0; o < kStemOutputs; ++o)
    for (int tap = 0; tap < 27; ++tap) transposed[size_t(tap * kStemOutputs + o)] = weights[o * 27 + tap];
  const int64_t planes = int64_t(out.shape.n) * out.shape.d;
  std::vector<PlaneMoments> moments(size_t(planes * kStemOutputs));
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) { stem_planes(x, transposed.data(), out, begin, end, moments.data()); });
  finish_statistics(moments, planes, kStemOutputs, eps, mean, var, invstd, ranks);
}

template <>
void stem_weight_gradient(CpuFusedContext&, Tensor<const float> x, ChannelsLast features, const DeferredGradient& g, float* weight_grad, int) {
  MDCSRN_ASSERT(x.shape.c == 1 && x.contiguous() && volume_shape(x.shape).voxels() == features.shape.voxels() &&
                    features.stride % 8 == 0 && features.stride >= kStemOutputs && g.covers(0, kStemOutputs),
                "stem_weight_gradient: the feature buffer does not match the input " + x.shape.str());
  const int64_t planes = int64_t(features.shape.n) * features.shape.d, blocks = std::min(planes, kWeightGradientPlaneBlocks);
  const int64_t weights = 27 * kStemOutputs;
  std::vector<float> partials(size_t(blocks * weights), 0.f);
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      stem_weight_gradient_planes(x, features, g, planes * b / blocks, planes * (b + 1) / blocks, partials.data() + b * weights);
  });
  const std::vector<float> total = sum_blocks_in_order(partials, blocks, weights);
  for (int o = 0; o < kStemOutputs; ++o)
    for (int tap = 0; tap < 27; ++tap) weight_grad[o * 27 + tap] = total[size_t(tap * kStemOutputs + o)];
}

}  // namespace gpu
}  // namespace mdcsrn

#pragma GCC pop_options
