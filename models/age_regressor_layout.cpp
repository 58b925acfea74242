#include "models/age_regressor_layout.h"

#include "engine/error.h"

namespace mdcsrn {

std::string AgeRegressorConfig::describe() const {
  std::string text = "DenseNet F" + std::to_string(features) + " growth " + std::to_string(growth) + " bottleneck " +
                     std::to_string(bottleneck) + " blocks ";
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (b) text += '-';
    text += std::to_string(blocks[b]);
  }
  return text;
}

NormLayer AgeRegressorLayout::add_norm(const std::string& name, int channels) {
  NormLayer n;
  n.name = name;
  n.channels = channels;
  n.weight = table_.add(name + ".weight", {channels});
  n.bias = table_.add(name + ".bias", {channels});
  n.stats_offset = norm_channels_;
  norm_channels_ += channels;
  return n;
}

AgeRegressorLayout::AgeRegressorLayout(const AgeRegressorConfig& c) : config_(c) {
  MDCSRN_REQUIRE(c.features >= 1 && c.growth >= 1 && c.bottleneck >= 1, "model.features, model.growth, model.bottleneck: " + std::to_string(c.features) + ", " + std::to_string(c.growth) + ", " + std::to_string(c.bottleneck) + "; each must be a positive integer, e.g. 64, 32, 4");
  MDCSRN_REQUIRE(!c.blocks.empty(), "model.blocks: []; needs at least one dense block, e.g. [6, 12, 24, 16]");
  for (int units : c.blocks) MDCSRN_REQUIRE(units >= 1, "model.blocks: a block of " + std::to_string(units) + " units; every dense block needs at least one, e.g. [6, 12, 24, 16]");
  conv0_weight_ = table_.add("features.conv0.weight", {c.features, 1, 7, 7, 7});
  norm0_ = add_norm("features.norm0", c.features);
  int channels = c.features;
  for (size_t b = 0; b < c.blocks.size(); ++b) {
    const std::string block = "features.denseblock" + std::to_string(b + 1);
    DenseBlockLayout layout;
    layout.input_channels = channels;
    for (int u = 0; u < c.blocks[b]; ++u) {
      const std::string unit = block + ".denselayer" + std::to_string(u + 1) + ".layers";
      DenseUnitLayout d{};
      d.input_channels = channels;
      d.output_channel = channels;
      d.norm1 = add_norm(unit + ".norm1", channels);
      d.conv1_weight = table_.add(unit + ".conv1.weight", {bottleneck_channels(), channels, 1, 1, 1});
      d.norm2 = add_norm(unit + ".norm2", bottleneck_channels());
      d.conv2_weight = table_.add(unit + ".conv2.weight", {c.growth, bottleneck_channels(), 3, 3, 3});
      layout.units.push_back(d);
      channels += c.growth;
    }
    layout.channels = channels;
    if (b + 1 < c.blocks.size()) {
      const std::string transition = "features.transition" + std::to_string(b + 1);
      layout.transition_norm = add_norm(transition + ".norm", channels);
      layout.transition_outputs = channels / 2;
      layout.transition_weight = table_.add(transition + ".conv.weight", {channels / 2, channels, 1, 1, 1});
      channels /= 2;
    }
    blocks_.push_back(layout);
  }
  norm5_ = add_norm("features.norm5", channels);
  head_weight_ = table_.add("class_layers.out.weight", {1, channels});
  head_bias_ = table_.add("class_layers.out.bias", {1});
}

std::vector<const NormLayer*> AgeRegressorLayout::norms() const {
  std::vector<const NormLayer*> all{&norm0_};
  for (const DenseBlockLayout& b : blocks_) {
    for (const DenseUnitLayout& u : b.units) {
      all.push_back(&u.norm1);
      all.push_back(&u.norm2);
    }
    if (b.transition_weight >= 0) all.push_back(&b.transition_norm);
  }
  all.push_back(&norm5_);
  return all;
}

}  // namespace mdcsrn
