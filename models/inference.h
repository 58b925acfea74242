#pragma once
// Whole-volume inference (REFERENCE.md section 6): the volume is cut into patches, run through the
// generator in batches (eval-mode BatchNorm), and stitched back on the input's grid, either as
// the authors do (tiles at stride patch - 2 margin, each keeping its core and dropping a margin of
// 3 voxels) or with overlapping tiles blended by a Gaussian weight (sigma = 0.125 patch), as
// MONAI's sliding-window inference.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "models/checkpoint.h"

namespace mdcsrn {

class CudaContext;

enum class Stitching { MarginCrop, Gaussian };
Stitching parse_stitching(const std::string& name);  // crop, gaussian

struct InferenceOptions {
  int patch = 32;
  int batch = 16;
  Stitching stitching = Stitching::MarginCrop;
  int margin = 3;   // crop: voxels dropped at each side of a tile's output
  int stride = 16;  // gaussian: distance between tile origins
  // bf16: the fused bf16 kernels (a GPU's fast path, or the fused CPU kernels) where they cover the
  // model and the device, else tf32 on a GPU and fp32 on the CPU; tf32 or fp32: the reference path
  // (the CPU has no tf32: fp32); auto: bf16 on a GPU, fp32 on the CPU.
  std::string precision = "auto";
};

// Refuses, in words naming the infer option (--patch, --batch, --margin, --stride, --precision),
// options that cannot tile a volume.
void check_inference_options(const InferenceOptions& o);

// Tile origins along one axis of n voxels (they may start before 0 or reach past n: zero padding).
std::vector<int64_t> tile_origins(int64_t n, const InferenceOptions& o);

// Runs predict() on every tile of a volume and stitches the results. predict(first, count, in,
// out) maps `count` input patches (patch^3 each, contiguous) to as many output patches.
std::vector<float> stitch_volume(const std::vector<float>& volume, const std::array<int64_t, 3>& dims, const InferenceOptions& o,
                                 const std::function<void(int64_t count, const float* in, float* out)>& predict);

// The generator of a checkpoint applied to a volume; on the GPU when ctx is given. `path`, when
// given, receives a description of the arithmetic used (e.g. "bf16 fast path").
std::vector<float> super_resolve(const GeneratorConfig& model, const GeneratorState& state, const std::vector<float>& volume,
                                 const std::array<int64_t, 3>& dims, const InferenceOptions& o, CudaContext* ctx,
                                 std::string* path = nullptr);

}  // namespace mdcsrn
