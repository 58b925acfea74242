#pragma once
// The shape of the WGAN critic (REFERENCE.md section 3), as in the authors' code (an SRGAN-style
// discriminator in 3-D): conv 3^3 1 -> w0 with bias and LeakyReLU, which is the stride-1 half of
// the first pair; then the stride-2 conv at w0 and the pairs [stride 1, stride 2] at w1, w2, w3,
// each conv followed by LayerNorm over (C, D, H, W) with a per-element affine and LeakyReLU; global
// average pooling; 1^3 convs w3 -> hidden, LeakyReLU, hidden -> 1. With the default widths (64, 128,
// 256, 512), hidden 1024 and 32^3 patches it has 16,647,745 parameters (the reference's "about
// 16.6M"); the LayerNorm affines make it specific to one patch size.
//
// PyTorch module names: conv0.{weight,bias}; layers.<i>.conv.{weight,bias} and
// layers.<i>.norm.{weight,bias} for i = 0..6; fc1.{weight,bias}; fc2.{weight,bias}.
#include <array>
#include <string>
#include <vector>

#include "engine/arena.h"
#include "kernels/activation.h"
#include "kernels/conv3d.h"

namespace mdcsrn {

struct CriticConfig {
  int patch = 32;                             // input edge; must be divisible by 16
  std::array<int, 4> widths{64, 128, 256, 512};
  int hidden = 1024;
  // LeakyReLU's negative slope. 1 makes every activation the identity, as the authors' code does
  // by mistake, so that their (linear between normalisations) critic can be reproduced.
  float slope = 0.2f;

  ActivationSpec activation() const { return {Activation::LeakyRelu, slope}; }
  std::string describe() const;
};

struct CriticConvLayer {
  int in_channels, out_channels;
  ConvParams conv;          // 3^3, stride 1 or 2, padding 1
  int64_t output_edge;      // spatial edge of its output
  int weight, bias;         // parameter indices
  int norm_weight = -1, norm_bias = -1;  // -1 for conv0, which has no normalisation
};

// A weight as the matrix spectral normalisation sees (PyTorch's reshape to (out, -1)): every
// convolution's and linear layer's, [outputs][inputs x taps].
struct CriticWeightMatrix {
  int weight;  // parameter index
  int64_t rows, columns;
};

class CriticLayout {
 public:
  explicit CriticLayout(const CriticConfig& config);

  const CriticConfig& config() const { return config_; }
  const ParamTable& table() const { return table_; }
  const std::vector<CriticConvLayer>& convs() const { return convs_; }  // conv0 first
  int fc1_weight() const { return fc1_weight_; }
  int fc1_bias() const { return fc1_bias_; }
  int fc2_weight() const { return fc2_weight_; }
  int fc2_bias() const { return fc2_bias_; }
  std::vector<CriticWeightMatrix> weight_matrices() const;  // conv0, the layers' convs, fc1, fc2

 private:
  CriticConfig config_;
  ParamTable table_;
  std::vector<CriticConvLayer> convs_;
  int fc1_weight_ = -1, fc1_bias_ = -1, fc2_weight_ = -1, fc2_bias_ = -1;
};

}  // namespace mdcsrn
