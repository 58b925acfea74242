#include "models/critic_layout.h"

#include <cstdio>

#include "engine/error.h"

namespace mdcsrn {

std::string CriticConfig::describe() const {
  char text[160];
  std::snprintf(text, sizeof text, "WGAN critic %d-%d-%d-%d, hidden %d, LeakyReLU(%g)%s, %d^3 patches", widths[0], widths[1], widths[2],
                widths[3], hidden, double(slope), slope == 1.f ? " = identity (the authors' code)" : "", patch);
  return text;
}

CriticLayout::CriticLayout(const CriticConfig& c) : config_(c) {
  MDCSRN_REQUIRE(c.patch >= 16 && c.patch % 16 == 0, "critic: a patch of " + std::to_string(c.patch) + "^3; its four stride-2 convolutions need a positive multiple of 16, e.g. 32");
  for (int w : c.widths) MDCSRN_REQUIRE(w >= 1, "wgan.critic_widths: " + std::to_string(w) + "; every width must be a positive integer, e.g. [64, 128, 256, 512]");
  MDCSRN_REQUIRE(c.hidden >= 1, "wgan.critic_hidden: " + std::to_string(c.hidden) + "; must be a positive integer, e.g. 1024");
  MDCSRN_REQUIRE(c.slope >= 0.f, "wgan.critic_slope: " + std::to_string(c.slope) + "; must not be negative, e.g. 0.2");
  int64_t edge = c.patch;
  // conv0 is a bare module (conv0.weight); the later convs sit in layers.<i> beside their norms.
  auto add_conv = [&](const std::string& prefix, int in, int out, int stride, bool normalised) {
    CriticConvLayer l{};
    l.in_channels = in;
    l.out_channels = out;
    l.conv = ConvParams{3, stride, 1};
    edge = conv_output_size(edge, l.conv);
    l.output_edge = edge;
    const std::string conv = normalised ? prefix + "conv" : prefix;
    l.weight = table_.add(conv + ".weight", {out, in, 3, 3, 3});
    l.bias = table_.add(conv + ".bias", {out});
    if (normalised) {
      l.norm_weight = table_.add(prefix + "norm.weight", {out, edge, edge, edge});
      l.norm_bias = table_.add(prefix + "norm.bias", {out, edge, edge, edge});
    }
    convs_.push_back(l);
  };
  add_conv("conv0", 1, c.widths[0], 1, false);
  int layer = 0, channels = c.widths[0];
  for (size_t w = 0; w < c.widths.size(); ++w) {
    if (w > 0) add_conv("layers." + std::to_string(layer++) + ".", channels, c.widths[w], 1, true);
    channels = c.widths[w];
    add_conv("layers." + std::to_string(layer++) + ".", channels, channels, 2, true);
  }
  fc1_weight_ = table_.add("fc1.weight", {c.hidden, channels, 1, 1, 1});
  fc1_bias_ = table_.add("fc1.bias", {c.hidden});
  fc2_weight_ = table_.add("fc2.weight", {1, c.hidden, 1, 1, 1});
  fc2_bias_ = table_.add("fc2.bias", {1});
}

std::vector<CriticWeightMatrix> CriticLayout::weight_matrices() const {
  std::vector<int> weights;
  for (const CriticConvLayer& l : convs_) weights.push_back(l.weight);
  weights.push_back(fc1_weight_);
  weights.push_back(fc2_weight_);
  std::vector<CriticWeightMatrix> matrices;
  for (const int w : weights) {
    const ParamEntry& e = table_.entry(w);
    matrices.push_back({w, e.shape[0], e.numel / e.shape[0]});
  }
  return matrices;
}

}  // namespace mdcsrn
