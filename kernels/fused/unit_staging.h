#pragma once
// How the unit kernels stage 16 channels of a tile into shared memory: a voxel's 16 bf16 values
// take 32 bytes of a 48-byte slot, so that eight consecutive slots fall in distinct 16-byte bank
// groups and ldmatrix reads them without bank conflicts. Voxels outside the volume are staged as
// zeros. Two things are staged: a unit's input activation act(x * scale + shift) (forward, weight
// gradient), and the deferred gradient of its 16 outputs (weight and data gradients).
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "kernels/activation.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/deferred_gradient.h"
#include "kernels/fused/unit_activation.h"
#include "kernels/fused/volume_tile.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

constexpr int kSlotElements = 24, kSlotWords4 = 3;

// The staged box: the tile itself, or the tile and its one-voxel halo.
struct TileRegion {
  static constexpr int kDepth = VolumeTile::kDepth, kHeight = VolumeTile::kHeight, kWidth = VolumeTile::kWidth, kOrigin = 0;
  static constexpr int kVoxels = kDepth * kHeight * kWidth;
};
struct HaloRegion {
  static constexpr int kDepth = VolumeTile::kHaloDepth, kHeight = VolumeTile::kHaloHeight, kWidth = VolumeTile::kHaloWidth, kOrigin = -1;
  static constexpr int kVoxels = kDepth * kHeight * kWidth;
};

// The volume voxel staged in slot `slot` of the region, or -1 outside the volume.
template <class Region>
MDCSRN_DEVICE int64_t region_voxel(const VolumeTile& tile, const VolumeShape& shape, int slot) {
  const int dd = slot / (Region::kHeight * Region::kWidth), hh = slot / Region::kWidth % Region::kHeight, ww = slot % Region::kWidth;
  return tile.voxel(shape, dd + Region::kOrigin, hh + Region::kOrigin, ww + Region::kOrigin);
}

MDCSRN_DEVICE uint32_t activate_pair(const ActivationSpec& a, uint32_t pair, float scale0, float shift0, float scale1, float shift1) {
  const float lo = unit_activation(a, bf16_to_float(bf16x2_low(pair)), scale0, shift0);
  const float hi = unit_activation(a, bf16_to_float(bf16x2_high(pair)), scale1, shift1);
  return pack_bf16x2(float_to_bf16(lo), float_to_bf16(hi));
}

// A unit's input: channels [channel, channel + count) of the feature buffer, normalised and
// activated; scale and shift are indexed from `channel`.
struct UnitInput {
  const uint16_t* features = nullptr;
  VolumeShape shape;
  int32_t stride = 0;
  int32_t channel = 0, count = 0;
  const float* scale = nullptr;
  const float* shift = nullptr;
  ActivationSpec activation;
};

// Which slots and which half of them thread t stages: half (t / 8) % 2 of slots (t / 16) * 8 +
// t % 8, then every block_threads / 2 slots on. The 8 lanes of a phase of 16-byte stores then
// write one half of 8 consecutive slots, in 8 distinct bank groups (two halves of four slots
// share one: 2-way conflicts), and a warp still covers both halves of 16 voxels.
struct StagingLane {
  int half, first_slot, slot_step;
};
MDCSRN_DEVICE StagingLane staging_lane() {
  const int t = int(simt::linear_thread());
  return StagingLane{t / 8 % 2, t / 16 * 8 + t % 8, int(simt::block_threads()) / 2};
}

// Stages input channels [16 q, 16 q + 16) over the region, activated. Thread t always takes the
// same 8 channels (staging_lane's half).
template <class Region>
MDCSRN_DEVICE void stage_activation(const UnitInput& in, const VolumeTile& tile, int q, simt::Shared<simt::Words4> slots) {
  const StagingLane lane = staging_lane();
  const int half = lane.half;
  const int first = 16 * q + 8 * half;
  float scale[8], shift[8];
  for (int k = 0; k < 8; ++k) {
    scale[k] = in.scale[first + k];
    shift[k] = in.shift[first + k];
  }
  for (int slot = lane.first_slot; slot < Region::kVoxels; slot += lane.slot_step) {
    const int64_t v = region_voxel<Region>(tile, in.shape, slot);
    simt::Words4 staged{0, 0, 0, 0};
    if (v >= 0) {
      const simt::Words4 x = simt::load16(in.features + v * in.stride + in.channel + first);
      staged = simt::Words4{activate_pair(in.activation, x.x, scale[0], shift[0], scale[1], shift[1]),
                            activate_pair(in.activation, x.y, scale[2], shift[2], scale[3], shift[3]),
                            activate_pair(in.activation, x.z, scale[4], shift[4], scale[5], shift[5]),
                            activate_pair(in.activation, x.w, scale[6], shift[6], scale[7], shift[7])};
    }
    slots.store(slot * kSlotWords4 + half, staged);
  }
}

// Stages the gradient of feature channels [channel, channel + 16) over the region.
template <class Region>
MDCSRN_DEVICE void stage_gradient(const uint16_t* features, const VolumeShape& shape, int32_t stride, int32_t channel,
                                  const DeferredGradient& g, const VolumeTile& tile, simt::Shared<simt::Words4> slots) {
  const StagingLane lane = staging_lane();
  const int half = lane.half;
  const int32_t first = channel + 8 * half;
  const Coefficients8 coefficients(g, first);
  for (int slot = lane.first_slot; slot < Region::kVoxels; slot += lane.slot_step) {
    const int64_t v = region_voxel<Region>(tile, shape, slot);
    simt::Words4 staged{0, 0, 0, 0};
    if (v >= 0) staged = deferred_gradient_bf16x8(g, v, first, coefficients, simt::load16(features + v * stride + first));
    slots.store(slot * kSlotWords4 + half, staged);
  }
}

// A unit kernel's launch checks: 16-channel input chunks and 16 outputs at offsets the kernels'
// vector accesses allow, inside the voxel stride; when the outputs go to the input's buffer (or
// their gradients are read where the inputs' are written), no overlap with the input channels
// (blocks read their neighbours' halos). Returns the tile count.
inline int64_t check_unit_launch(const std::string& who, const UnitInput& in, bool output_in_input_buffer, int32_t output_channel) {
  MDCSRN_ASSERT(in.count % 16 == 0 && in.count > 0, who + ": " + std::to_string(in.count) + " input channels (needs a multiple of 16)");
  MDCSRN_ASSERT(in.stride % 8 == 0 && in.channel % 8 == 0 && output_channel % 8 == 0 && in.channel + in.count <= in.stride &&
                     output_channel + 16 <= in.stride,
                 who + ": channel offsets must be multiples of 8 inside the voxel stride");
  MDCSRN_ASSERT(!output_in_input_buffer || output_channel >= in.channel + in.count || output_channel + 16 <= in.channel,
                 who + ": the output channels overlap the input channels");
  const int64_t tiles = VolumeTile::count(in.shape);
  MDCSRN_ASSERT(tiles >= 1 && tiles < (int64_t(1) << 31), who + ": volume " + std::to_string(in.shape.voxels()) + " voxels");
  return tiles;
}

}  // namespace mdcsrn
