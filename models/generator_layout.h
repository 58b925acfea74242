#pragma once
// The shape of an mDCSRN generator (REFERENCE.md section 2): its parameters under PyTorch module
// names, and where every feature channel lives in the one dense feature buffer.
//
// Wiring: f0 = conv0(x); block b maps its 2k input channels to 2k + U k (input included);
// F_0 = cat(f0, B_0(f0)); F_b = cat(F_{b-1}, B_b(compressor_{b-1}(F_{b-1}))); out = recon(F_{B-1}).
// The concatenations repeat f0, so the feature buffer holds each distinct channel once, in the
// order f0, block 0's units, then per later block its compressor output and its units; each
// compressor (and the reconstruction) reads a prefix of that buffer through a channel map.
#include <string>
#include <vector>

#include "engine/arena.h"
#include "kernels/activation.h"

namespace mdcsrn {

struct GeneratorConfig {
  int blocks = 4;
  int units = 4;
  int growth = 16;  // k: channels per unit; conv0 and compressors produce 2k
  ActivationSpec activation{Activation::Elu, 0.01f};

  static GeneratorConfig paper() { return {}; }  // b4u4, ELU: 411,648 parameters
  static GeneratorConfig authors_code() { return {4, 5, 16, {Activation::LeakyRelu, 0.01f}}; }  // 581,440
  std::string describe() const;
};

struct UnitLayout {
  int input_channel;   // first channel of its input slice in the feature buffer
  int input_channels;  // 2k + u k
  int output_channel;  // where its k channels go
  int bn_weight, bn_bias, conv_weight;  // parameter indices
  int stats_offset;    // into the per-unit BN statistics buffers (mean, invstd, running mean/var)
};

struct MixLayout {           // a 1x1x1 conv over a concatenation: compressor or reconstruction
  std::vector<int32_t> map;  // concatenation channel (PyTorch order) -> feature-buffer channel
  int distinct;              // reads feature channels [0, distinct)
  int output_channel;        // compressors: where its 2k channels go; reconstruction: -1
  int outputs;
  int weight;                // parameter index
  int folded_offset;         // into the folded-weight buffer
};

class GeneratorLayout {
 public:
  explicit GeneratorLayout(const GeneratorConfig& config);

  const GeneratorConfig& config() const { return config_; }
  const ParamTable& table() const { return table_; }
  int feature_channels() const { return feature_channels_; }   // distinct channels (384 for b4u4)
  int widest_unit_input() const { return widest_unit_input_; }
  int bn_channels() const { return bn_channels_; }              // sum of unit input channels
  int64_t folded_weights() const { return folded_weights_; }
  int conv0_weight() const { return conv0_weight_; }

  const std::vector<std::vector<UnitLayout>>& units() const { return units_; }  // [block][unit]
  const std::vector<MixLayout>& compressors() const { return compressors_; }   // before blocks 1 .. B-1
  const MixLayout& reconstruction() const { return reconstruction_; }
  // Block b's input channel (f0 for block 0, else its compressor's output).
  int block_input(int b) const { return units_[size_t(b)][0].input_channel; }

  // Names of the BatchNorm buffers of unit (b, u), as PyTorch saves them.
  std::string bn_name(int b, int u) const;

 private:
  GeneratorConfig config_;
  ParamTable table_;
  int conv0_weight_ = -1;
  int feature_channels_ = 0, widest_unit_input_ = 0, bn_channels_ = 0;
  int64_t folded_weights_ = 0;
  std::vector<std::vector<UnitLayout>> units_;
  std::vector<MixLayout> compressors_;
  MixLayout reconstruction_{};
};

}  // namespace mdcsrn
