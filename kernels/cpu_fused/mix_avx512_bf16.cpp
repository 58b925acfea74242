// The 1x1 layers' plane loops on bf16 pairs (see mix_avx512_bf16.h).
#include "kernels/cpu_fused/mix_avx512_bf16.h"

#include <cstring>
#include <vector>

// Everything below is compiled for AVX-512 with BF16 and runs only where cpu_isa() allows it
// (mix.cpp checks).
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#include "kernels/cpu_fused/microkernel_avx512_bf16.h"

namespace mdcsrn::cpu_fused::avx512_bf16 {
namespace {

int64_t plane_voxels(const VolumeShape& s) { return int64_t(s.h) * s.w; }

// Columns [first, first + count) (count a multiple of 16) of voxels [v0, v0 + voxels) as voxel
// pairs, out[voxels / 2 rounded up][count][2]; an odd last voxel paired with zeros.
void stage_voxel_pairs(const uint16_t* data, int64_t stride, int64_t v0, int64_t voxels, int first, int count, uint16_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t q = 0; q < (voxels + 1) / 2; ++q) {
    const uint16_t* left = data + (v0 + 2 * q) * stride + first;
    const bool pair = 2 * q + 1 < voxels;
    for (int c = 0; c < count; c += 16)
      store_interleaved(out + (q * count + c) * 2, load16(left + c), pair ? load16(left + stride + c) : zero);
  }
}

}  // namespace

void compressor_planes(ChannelsLast f, int inputs, const uint32_t* weight_pairs, int output_channel, int64_t begin, int64_t end,
                       PlaneMoments* moments) {
  const int64_t voxels = plane_voxels(f.shape);
  std::vector<float> values(size_t(voxels * kCompressorOutputs));
  for (int64_t p = begin; p < end; ++p) {
    for (int half = 0; half < 2; ++half)
      for_row_tiles(voxels, [&]<int V>(int64_t i0) {
        f16 acc[V];
        clear(acc);
        const auto* rows = reinterpret_cast<const uint32_t*>(f.voxel(p * voxels + i0));
        const uint32_t* w = weight_pairs + 16 * half;
        dot_pairs<V>(&rows, &w, 1, f.stride / 2, 1, kCompressorOutputs, inputs / 2, acc);
        for (int j = 0; j < V; ++j) {
          const f16 rounded = round_bf16(acc[j]);
          std::memcpy(values.data() + (i0 + j) * kCompressorOutputs + 16 * half, &rounded, sizeof rounded);
        }
      });
    for (int64_t i = 0; i < voxels; ++i)
      for (int q = 0; q < kCompressorOutputs; q += 8)
        store_bf16x8(f.voxel(p * voxels + i) + output_channel + q, load8(values.data() + i * kCompressorOutputs + q));
    plane_moments(values.data(), voxels, kCompressorOutputs, kCompressorOutputs, moments + p * kCompressorOutputs);
  }
}

void mix_weight_gradient_planes(ChannelsLast f, int inputs, MixGradients G, int column, int groups, int64_t begin, int64_t end,
                                float* partial) {
  const int64_t voxels = plane_voxels(f.shape), pairs = (voxels + 1) / 2;
  const int width = 16 * groups;
  std::vector<uint16_t> a(size_t(pairs * inputs * 2)), b(size_t(pairs * width * 2));
  for (int64_t p = begin; p < end; ++p) {
    stage_voxel_pairs(f.data, f.stride, p * voxels, voxels, 0, inputs, a.data());
    stage_voxel_pairs(G.data, G.columns, p * voxels, voxels, column, width, b.data());
    for (int group = 0; group < groups; ++group)
      for_row_tiles(inputs, [&]<int V>(int64_t c0) {
        f16 acc[V];
        clear(acc);
        const uint32_t* channels = reinterpret_cast<const uint32_t*>(a.data()) + c0;
        const uint32_t* gradients = reinterpret_cast<const uint32_t*>(b.data()) + 16 * group;
        dot_pairs<V>(&channels, &gradients, 1, 1, inputs, width, pairs, acc);
        for (int j = 0; j < V; ++j) {
          float* o = partial + (c0 + j) * kCompressorOutputs + 16 * group;
          const f16 sum = load_as<f16>(o) + acc[j];
          std::memcpy(o, &sum, sizeof sum);
        }
      });
  }
}

void mix_data_gradient_voxels(MixGradients G, int first_column, const uint32_t* weight_pairs, const DeferredGradient& g,
                              int first_channel, int channels, int64_t voxels) {
  const int columns = G.columns - first_column;
  for (int block = 0; block < channels / 16; ++block)
    for_row_tiles(voxels, [&]<int V>(int64_t i0) {
      f16 acc[V];
      clear(acc);
      const auto* rows = reinterpret_cast<const uint32_t*>(G.data + i0 * G.columns + first_column);
      const uint32_t* w = weight_pairs + 16 * block;
      dot_pairs<V>(&rows, &w, 1, G.columns / 2, 1, channels, columns / 2, acc);
      for (int j = 0; j < V; ++j) std::memcpy(g.raw_at(i0 + j, first_channel + 16 * block), &acc[j], sizeof acc[j]);
    });
}

}  // namespace mdcsrn::cpu_fused::avx512_bf16

#pragma GCC pop_options
