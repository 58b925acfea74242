#include "models/generator_layout.h"

#include "engine/error.h"

namespace mdcsrn {

std::string GeneratorConfig::describe() const {
  return "mDCSRN b" + std::to_string(blocks) + "u" + std::to_string(units) + " k" + std::to_string(growth) + " " +
         (activation.kind == Activation::Elu ? std::string("ELU") : "LeakyReLU(" + std::to_string(activation.slope) + ")");
}

std::string GeneratorLayout::bn_name(int b, int u) const {
  return "blocks." + std::to_string(b) + ".units." + std::to_string(u) + ".bn";
}

GeneratorLayout::GeneratorLayout(const GeneratorConfig& c) : config_(c) {
  MDCSRN_REQUIRE(c.blocks >= 1 && c.units >= 1 && c.growth >= 1, "model.blocks, model.units, model.growth: " + std::to_string(c.blocks) + ", " + std::to_string(c.units) + ", " + std::to_string(c.growth) + "; each must be a positive integer, e.g. 4, 4, 16");
  const int k = c.growth, k2 = 2 * k;
  conv0_weight_ = table_.add("conv0.weight", {k2, 1, 3, 3, 3});
  std::vector<int32_t> concat;  // the running concatenation F_b, as feature-buffer channels
  int next = k2;                // first free feature channel
  int block_input = 0;
  for (int b = 0; b < c.blocks; ++b) {
    if (b > 0) {
      MixLayout m;
      m.map = concat;
      m.distinct = next;
      m.output_channel = next;
      m.outputs = k2;
      m.weight = table_.add("compressors." + std::to_string(b - 1) + ".weight", {k2, int64_t(concat.size()), 1, 1, 1});
      m.folded_offset = int(folded_weights_);
      folded_weights_ += int64_t(k2) * next;
      compressors_.push_back(m);
      block_input = next;
      next += k2;
    }
    std::vector<UnitLayout> block;
    for (int u = 0; u < c.units; ++u) {
      UnitLayout unit;
      unit.input_channel = block_input;
      unit.input_channels = k2 + u * k;
      unit.output_channel = next;
      const std::string name = bn_name(b, u);
      unit.bn_weight = table_.add(name + ".weight", {unit.input_channels});
      unit.bn_bias = table_.add(name + ".bias", {unit.input_channels});
      unit.conv_weight = table_.add("blocks." + std::to_string(b) + ".units." + std::to_string(u) + ".conv.weight",
                                    {k, unit.input_channels, 3, 3, 3});
      unit.stats_offset = bn_channels_;
      bn_channels_ += unit.input_channels;
      widest_unit_input_ = std::max(widest_unit_input_, unit.input_channels);
      next += k;
      block.push_back(unit);
    }
    units_.push_back(block);
    // F_b = cat(F_{b-1}, B_b's output); block 0's predecessor is f0 itself.
    if (b == 0)
      for (int ch = 0; ch < k2; ++ch) concat.push_back(ch);
    for (int ch = block_input; ch < next; ++ch) concat.push_back(ch);
  }
  feature_channels_ = next;
  reconstruction_.map = concat;
  reconstruction_.distinct = next;
  reconstruction_.output_channel = -1;
  reconstruction_.outputs = 1;
  reconstruction_.weight = table_.add("reconstruction.weight", {1, int64_t(concat.size()), 1, 1, 1});
  reconstruction_.folded_offset = int(folded_weights_);
  folded_weights_ += next;
}

}  // namespace mdcsrn
