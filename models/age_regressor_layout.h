#pragma once
// The shape of the brain-age regressor: a 3-D DenseNet as MONAI's DenseNet121 (the usual network
// for 3-D brain age), for one-channel volumes and one output, age in years.
//
// Stem: conv 7^3 stride 2 (1 -> F, no bias), BatchNorm, ReLU, max pooling 3^3 stride 2.
// Dense blocks of U_b bottleneck units; a unit reads every channel its block holds so far
// (BN-ReLU-conv 1^3 to bottleneck x growth, BN-ReLU-conv 3^3 to growth) and appends its growth
// channels. Between blocks a transition: BN-ReLU-conv 1^3 halving the channels, average pooling
// 2^3 stride 2. Head: BN, ReLU, global average pooling, linear to one output. Convolutions have
// no bias. A block's features live in one buffer, each unit's output at its channel offset.
//
// The default (F 64, growth 32, bottleneck 4, blocks 6-12-24-16) has 11,243,649 parameters, as
// MONAI's DenseNet121(spatial_dims=3, in_channels=1, out_channels=1). Parameter names are MONAI's
// state_dict keys (features.denseblock1.denselayer1.layers.norm1.weight, ...).
#include <string>
#include <vector>

#include "engine/arena.h"

namespace mdcsrn {

struct AgeRegressorConfig {
  int features = 64;      // F: the stem's output channels
  int growth = 32;        // channels each unit adds
  int bottleneck = 4;     // a unit's 1^3 conv widens to bottleneck x growth
  std::vector<int> blocks{6, 12, 24, 16};

  static AgeRegressorConfig densenet121() { return {}; }
  // A network the CPU trains in seconds on 4 mm volumes: F 16, growth 8, blocks 2-2-2 (52,705 parameters).
  static AgeRegressorConfig small() { return {16, 8, 4, {2, 2, 2}}; }
  std::string describe() const;
};

// A BatchNorm layer: its affine parameters and its place in the statistics buffers.
struct NormLayer {
  std::string name;  // module name, e.g. features.norm0
  int channels = 0;
  int weight = -1, bias = -1;  // parameter indices
  int stats_offset = 0;        // into the per-layer statistics (running mean/var, eval normalisation)
};

struct DenseUnitLayout {
  int input_channels;  // the block's channels [0, input_channels)
  int output_channel;  // where its growth channels go
  NormLayer norm1, norm2;
  int conv1_weight, conv2_weight;
};

struct DenseBlockLayout {
  int input_channels;  // written by the stem's pooling or the previous transition's
  int channels;        // input plus every unit's output
  std::vector<DenseUnitLayout> units;
  // The transition after it (not after the last block): norm, 1^3 conv to channels / 2.
  NormLayer transition_norm;
  int transition_weight = -1;
  int transition_outputs = 0;
};

class AgeRegressorLayout {
 public:
  explicit AgeRegressorLayout(const AgeRegressorConfig& config);

  const AgeRegressorConfig& config() const { return config_; }
  const ParamTable& table() const { return table_; }
  int conv0_weight() const { return conv0_weight_; }
  const NormLayer& norm0() const { return norm0_; }
  const std::vector<DenseBlockLayout>& blocks() const { return blocks_; }
  const NormLayer& norm5() const { return norm5_; }  // the head's
  int head_weight() const { return head_weight_; }
  int head_bias() const { return head_bias_; }
  int norm_channels() const { return norm_channels_; }  // over every BatchNorm layer
  int bottleneck_channels() const { return config_.bottleneck * config_.growth; }
  // Every BatchNorm layer, the stem's first and the head's last.
  std::vector<const NormLayer*> norms() const;

 private:
  NormLayer add_norm(const std::string& name, int channels);

  AgeRegressorConfig config_;
  ParamTable table_;
  int conv0_weight_ = -1, head_weight_ = -1, head_bias_ = -1, norm_channels_ = 0;
  NormLayer norm0_, norm5_;
  std::vector<DenseBlockLayout> blocks_;
};

}  // namespace mdcsrn
