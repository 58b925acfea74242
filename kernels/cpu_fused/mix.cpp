// The 1x1 layers on the fused CPU path (kernels/fused/mix.h), plane by plane: a plane's operands
// are widened to fp32 once, then multiplied in the register tiles of kernels/cpu_fused/microkernel.h;
// where the CPU has AVX512-BF16, in bf16 pairs instead (kernels/cpu_fused/mix_avx512_bf16.h). The
// packed weight buffers hold this path's own layouts (bf16, row-major), read only here.
#include <algorithm>
#include <vector>

#include "engine/cpu_isa.h"
#include "engine/parallel.h"
#include "kernels/cpu_fused/bf16_pairs.h"
#include "kernels/cpu_fused/kernels.h"
#include "kernels/cpu_fused/mix_avx512_bf16.h"
#include "kernels/cpu_fused/plane_statistics.h"

// Everything below is compiled for AVX2+FMA (the headers above are not) and runs only where
// cpu_fused_unsupported() is "": FastGenerator<CpuFusedContext> and the tests check it first.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "kernels/cpu_fused/microkernel.h"

namespace mdcsrn {
namespace cpu_fused {
namespace {

int64_t plane_voxels(const VolumeShape& s) { return int64_t(s.h) * s.w; }
int64_t planes_of(const VolumeShape& s) { return int64_t(s.n) * s.d; }

// Channels [first, first + count) of voxels [v0, v0 + voxels), widened into out[voxels][count];
// count is a multiple of 16 (every caller's channel groups are).
void widen(const uint16_t* data, int64_t stride, int64_t v0, int64_t voxels, int first, int count, float* out) {
  for (int64_t i = 0; i < voxels; ++i)
    for (int c = 0; c < count; c += 8) store8(out + i * count + c, load_bf16x8(data + (v0 + i) * stride + first + c));
}

void compressor_planes(ChannelsLast f, int inputs, const float* weights, int output_channel, int64_t begin, int64_t end,
                                   PlaneMoments* moments) {
  const int64_t voxels = plane_voxels(f.shape);
  std::vector<float> a(size_t(voxels * inputs)), values(size_t(voxels * kCompressorOutputs));
  for (int64_t p = begin; p < end; ++p) {
    widen(f.data, f.stride, p * voxels, voxels, 0, inputs, a.data());
    for (int half = 0; half < 2; ++half)
      for_row_tiles(voxels, [&]<int V>(int64_t i0) {
        Accumulators<V> acc;
        acc.clear();
        const float* rows = a.data() + i0 * inputs;
        const float* w = weights + 16 * half;
        rows_by_stride<V>(&rows, &w, 1, inputs, kCompressorOutputs, inputs, acc);
        for (int j = 0; j < V; ++j) {
          float* o = values.data() + (i0 + j) * kCompressorOutputs + 16 * half;
          store8(o, round_bf16(acc.v[j][0]));
          store8(o + 8, round_bf16(acc.v[j][1]));
        }
      });
    for (int64_t i = 0; i < voxels; ++i)
      for (int q = 0; q < kCompressorOutputs; q += 8)
        store_bf16x8(f.voxel(p * voxels + i) + output_channel + q, load8(values.data() + i * kCompressorOutputs + q));
    plane_moments(values.data(), voxels, kCompressorOutputs, kCompressorOutputs, moments + p * kCompressorOutputs);
  }
}

void reconstruction_voxels(ChannelsLast f, int inputs, const float* weights, float* out, int64_t begin, int64_t end) {
  for (int64_t v = begin; v < end; ++v) {
    f8 acc = splat(0.f);
    for (int c = 0; c < inputs; c += 8) acc += load8(weights + c) * load_bf16x8(f.voxel(v) + c);
    out[v] = sum8(acc);
  }
}

void output_gradient_voxels(ChannelsLast f, const DeferredGradient& g, int channel, MixGradients G, int column, int64_t begin,
                                        int64_t end) {
  for (int64_t v = begin; v < end; ++v)
    for (int q = 0; q < kCompressorOutputs; q += 8) {
      const f8 t = load8(g.b + channel + q) * load_bf16x8(f.voxel(v) + channel + q) + load8(g.raw_at(v, channel + q));
      store_bf16x8(G.data + v * G.columns + column + q, t + load8(g.c + channel + q));
    }
}

// Adds planes [begin, end)'s sums to partial[inputs][32 outputs].
void mix_weight_gradient_planes(ChannelsLast f, int inputs, MixGradients G, int column, int groups, int64_t begin, int64_t end,
                                            float* partial) {
  const int64_t voxels = plane_voxels(f.shape);
  const int width = 16 * groups;
  std::vector<float> a(size_t(voxels * inputs)), b(size_t(voxels * width));
  for (int64_t p = begin; p < end; ++p) {
    widen(f.data, f.stride, p * voxels, voxels, 0, inputs, a.data());
    widen(G.data, G.columns, p * voxels, voxels, column, width, b.data());
    for (int group = 0; group < groups; ++group)
      for_row_tiles(inputs, [&]<int V>(int64_t c0) {
        Accumulators<V> acc;
        acc.clear();
        const float* channels = a.data() + c0;
        const float* gradients = b.data() + 16 * group;
        rows_adjacent<V>(&channels, &gradients, 1, inputs, width, voxels, acc);
        for (int j = 0; j < V; ++j) {
          float* o = partial + (c0 + j) * kCompressorOutputs + 16 * group;
          store8(o, load8(o) + acc.v[j][0]);
          store8(o + 8, load8(o + 8) + acc.v[j][1]);
        }
      });
  }
}

void mix_data_gradient_planes(MixGradients G, int first_column, const float* weights, const DeferredGradient& g, int first_channel,
                                          int channels, int64_t voxels, int64_t begin, int64_t end) {
  const int columns = G.columns - first_column;
  std::vector<float> a(size_t(voxels * columns));
  for (int64_t p = begin; p < end; ++p) {
    widen(G.data, G.columns, p * voxels, voxels, first_column, columns, a.data());
    for (int block = 0; block < channels / 16; ++block)
      for_row_tiles(voxels, [&]<int V>(int64_t i0) {
        Accumulators<V> acc;
        acc.clear();
        const float* rows = a.data() + i0 * columns;
        const float* w = weights + 16 * block;
        rows_by_stride<V>(&rows, &w, 1, columns, channels, columns, acc);
        for (int j = 0; j < V; ++j) {
          float* raw = g.raw_at(p * voxels + i0 + j, first_channel + 16 * block);
          store8(raw, acc.v[j][0]);
          store8(raw + 8, acc.v[j][1]);
        }
      });
  }
}

void check_gradients(const std::string& who, const MixGradients& G, int column, int width) {
  MDCSRN_ASSERT(G.columns % 16 == 0 && column % 16 == 0 && column + width <= G.columns,
                who + ": columns [" + std::to_string(column) + ", +" + std::to_string(width) + ") of " + std::to_string(G.columns));
}

std::vector<float> widened(const uint32_t* packed, int64_t count) {
  const auto* elements = reinterpret_cast<const uint16_t*>(packed);
  std::vector<float> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out[size_t(i)] = bf16_to_float(elements[i]);
  return out;
}

}  // namespace
}  // namespace cpu_fused

namespace gpu {

using namespace cpu_fused;

// bf16 [inputs rounded up to 32][32 outputs], zeros past the last input.
template <>
void pack_compressor_weights(CpuFusedContext&, const float* folded, int inputs, uint32_t* packed) {
  MDCSRN_ASSERT(inputs % 16 == 0, "pack_compressor_weights: " + std::to_string(inputs) + " inputs (needs a multiple of 16)");
  auto* elements = reinterpret_cast<uint16_t*>(packed);
  const int rows = (inputs + 31) / 32 * 32;
  for (int c = 0; c < rows; ++c)
    for (int o = 0; o < kCompressorOutputs; ++o)
      elements[c * kCompressorOutputs + o] = c < inputs ? float_to_bf16(folded[int64_t(o) * inputs + c]) : uint16_t(0);
}

template <>
void compressor_forward(CpuFusedContext&, ChannelsLast features, int inputs, const uint32_t* packed, int output_channel, float eps,
                        float* mean, float* var, float* invstd, const Collectives* ranks) {
  MDCSRN_ASSERT(inputs % 16 == 0 && inputs <= features.stride && features.stride % 8 == 0 && output_channel % 2 == 0 &&
                    output_channel + kCompressorOutputs <= features.stride,
                "compressor_forward: " + std::to_string(inputs) + " inputs, output at channel " + std::to_string(output_channel) + " of " +
                    std::to_string(features.stride));
  MDCSRN_ASSERT(output_channel >= inputs, "compressor_forward: the output channels overlap the inputs");
  const int64_t planes = planes_of(features.shape);
  std::vector<PlaneMoments> moments(size_t(planes * kCompressorOutputs));
  if (cpu_isa() >= CpuIsa::Avx512Bf16) {
    const std::vector<uint32_t> pairs = row_pairs(reinterpret_cast<const uint16_t*>(packed), inputs, kCompressorOutputs);
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      avx512_bf16::compressor_planes(features, inputs, pairs.data(), output_channel, begin, end, moments.data());
    });
  } else {
    const std::vector<float> weights = widened(packed, int64_t(inputs) * kCompressorOutputs);
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      compressor_planes(features, inputs, weights.data(), output_channel, begin, end, moments.data());
    });
  }
  finish_statistics(moments, planes, kCompressorOutputs, eps, mean, var, invstd, ranks);
}

template <>
void reconstruction_forward(CpuFusedContext&, ChannelsLast features, int inputs, const float* weights, float* out) {
  MDCSRN_ASSERT(inputs % 8 == 0 && inputs <= features.stride && features.stride % 8 == 0,
                "reconstruction_forward: " + std::to_string(inputs) + " inputs of " + std::to_string(features.stride));
  parallel_for(features.shape.voxels(), 4096,
               [&](int64_t begin, int64_t end) { reconstruction_voxels(features, inputs, weights, out, begin, end); });
}

template <>
void compressor_output_gradient(CpuFusedContext&, ChannelsLast features, const DeferredGradient& g, int channel, MixGradients G, int column) {
  check_gradients("compressor_output_gradient", G, column, kCompressorOutputs);
  MDCSRN_ASSERT(channel % 8 == 0 && channel + kCompressorOutputs <= features.stride && G.voxels == features.shape.voxels() &&
                    g.covers(channel, kCompressorOutputs),
                "compressor_output_gradient: channels " + std::to_string(channel) + " of " + std::to_string(features.stride));
  parallel_for(G.voxels, 4096, [&](int64_t begin, int64_t end) { output_gradient_voxels(features, g, channel, G, column, begin, end); });
}

template <>
void reconstruction_output_gradient(CpuFusedContext&, const float* dout, MixGradients G, int column) {
  check_gradients("reconstruction_output_gradient", G, column, kReconstructionColumns);
  parallel_for(G.voxels, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      uint16_t* row = G.data + v * G.columns + column;
      std::fill(row, row + kReconstructionColumns, uint16_t(0));
      row[0] = float_to_bf16(dout[v]);
    }
  });
}

template <>
void mix_weight_gradient(CpuFusedContext&, ChannelsLast features, int inputs, MixGradients G, int column, int outputs, float* folded_grad,
                         int) {
  const int groups = (outputs + 15) / 16;
  check_gradients("mix_weight_gradient", G, column, 16 * groups);
  MDCSRN_ASSERT(outputs >= 1 && outputs <= 32 && inputs % 16 == 0 && inputs <= features.stride && G.voxels == features.shape.voxels(),
                "mix_weight_gradient: " + std::to_string(outputs) + " outputs over " + std::to_string(inputs) + " inputs");
  const int64_t planes = planes_of(features.shape), blocks = std::min(planes, kWeightGradientPlaneBlocks);
  const int64_t weights = int64_t(inputs) * kCompressorOutputs;
  std::vector<float> partials(size_t(blocks * weights), 0.f);
  const bool bf16_pairs = cpu_isa() >= CpuIsa::Avx512Bf16;
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = planes * b / blocks, last = planes * (b + 1) / blocks;
      float* partial = partials.data() + b * weights;
      if (bf16_pairs)
        avx512_bf16::mix_weight_gradient_planes(features, inputs, G, column, groups, first, last, partial);
      else
        mix_weight_gradient_planes(features, inputs, G, column, groups, first, last, partial);
    }
  });
  const std::vector<float> total = sum_blocks_in_order(partials, blocks, weights);
  for (int o = 0; o < outputs; ++o)
    for (int c = 0; c < inputs; ++c) folded_grad[int64_t(o) * inputs + c] = total[size_t(int64_t(c) * kCompressorOutputs + o)];
}

// bf16 [columns][channels]: row k the folded weights' row column_rows[k] (zeros where it is < 0).
template <>
void pack_mix_data_gradient_weights(CpuFusedContext&, const float* folded, const int32_t* column_rows, int columns, int first_channel,
                                    int channels, uint32_t* packed) {
  MDCSRN_ASSERT(columns % 16 == 0 && channels % 16 == 0 && columns <= kMaxMixGradientColumns,
                "pack_mix_data_gradient_weights: " + std::to_string(columns) + " columns, " + std::to_string(channels) + " channels");
  auto* elements = reinterpret_cast<uint16_t*>(packed);
  for (int k = 0; k < columns; ++k)
    for (int n = 0; n < channels; ++n)
      elements[int64_t(k) * channels + n] = column_rows[k] >= 0 ? float_to_bf16(folded[column_rows[k] + first_channel + n]) : uint16_t(0);
}

template <>
void mix_data_gradient(CpuFusedContext&, MixGradients G, int first_column, const uint32_t* packed, const DeferredGradient& g, int first_channel,
                       int channels) {
  const int columns = G.columns - first_column;
  check_gradients("mix_data_gradient", G, first_column, columns);
  MDCSRN_ASSERT(columns >= 16 && columns <= kMaxMixGradientColumns && channels % 16 == 0 && g.covers(first_channel, channels),
                "mix_data_gradient: " + std::to_string(columns) + " columns into channels [" + std::to_string(first_channel) + ", +" +
                    std::to_string(channels) + ") of the raw gradients [" + std::to_string(g.raw_first) + ", +" +
                    std::to_string(g.raw_stride) + ")");
  const bool bf16_pairs = cpu_isa() >= CpuIsa::Avx512Bf16;
  const std::vector<float> weights = bf16_pairs ? std::vector<float>() : widened(packed, int64_t(columns) * channels);
  const std::vector<uint32_t> pairs =
      bf16_pairs ? row_pairs(reinterpret_cast<const uint16_t*>(packed), columns, channels) : std::vector<uint32_t>();
  // The 1x1 layers know no planes: blocks of up to 1024 voxels, the last one shorter.
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (G.voxels + kBlock - 1) / kBlock;
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t voxels = std::min(kBlock, G.voxels - b * kBlock);
      MixGradients part = G;
      part.data = G.data + b * kBlock * G.columns;
      DeferredGradient shifted = g;
      shifted.raw = g.raw + b * kBlock * g.raw_stride;
      if (bf16_pairs)
        avx512_bf16::mix_data_gradient_voxels(part, first_column, pairs.data(), shifted, first_channel, channels, voxels);
      else
        mix_data_gradient_planes(part, first_column, weights.data(), shifted, first_channel, channels, voxels, 0, 1);
    }
  });
}

}  // namespace gpu
}  // namespace mdcsrn

#pragma GCC pop_options
