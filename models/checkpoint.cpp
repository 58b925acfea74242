#include "models/checkpoint.h"

#include "engine/error.h"
#include "io/nibabel_order.h"
#include "io/safetensors.h"
#include "models/critic_spectral_norm.h"

namespace mdcsrn {

namespace {

// Version 1 stored the kernels' spatial axes in the engine's order (z, y, x); version 2 in
// nibabel's (x, y, z). Both are read.
constexpr const char* kFormat = "mdcsrn-generator-2";
constexpr const char* kEngineOrderFormat = "mdcsrn-generator-1";
constexpr const char* kSpatialAxes = "x,y,z: nibabel's array order, the last three axes of every conv kernel and LayerNorm affine";

// Reads a tensor of either version into the engine's order.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& path) : st_(SafeTensors::load(path)) {
    const std::string format = st_.metadata("format");
    if (format != kFormat && format != kEngineOrderFormat)
      fail(path + ": unknown checkpoint format '" + format + "' (this build reads " + kEngineOrderFormat + " and " + kFormat + ")");
    engine_order_ = format == kEngineOrderFormat;
  }
  const SafeTensors& file() const { return st_; }
  std::vector<float> f32(const std::string& name, const std::vector<int64_t>& shape) const {
    return engine_order_ ? st_.f32(name, shape) : f32_from_nibabel_order(st_, name, shape);
  }

 private:
  SafeTensors st_;
  bool engine_order_ = false;
};

}  // namespace

std::vector<int64_t> spectral_v_shape(const ParamEntry& weight) { return {weight.shape.begin() + 1, weight.shape.end()}; }

void add_spectral_vectors(SafeTensors& st, const std::string& prefix, const CriticLayout& layout, const std::vector<float>& vectors) {
  const SpectralVectorLayout at(layout);
  const std::vector<CriticWeightMatrix> matrices = layout.weight_matrices();
  for (size_t k = 0; k < matrices.size(); ++k) {
    const ParamEntry& w = layout.table().entry(matrices[k].weight);
    st.add_f32(prefix + w.name + "_u", {matrices[k].rows}, vectors.data() + at.u[k]);
    add_f32_in_nibabel_order(st, prefix + w.name + "_v", spectral_v_shape(w), vectors.data() + at.v[k]);
  }
}

void save_checkpoint(const std::string& path, const GeneratorLayout& layout, const GeneratorState& state, const CriticLayout* critic_layout,
                     const CriticState* critic) {
  SafeTensors st;
  if (critic) {
    for (const ParamEntry& e : critic_layout->table().entries()) {
      add_f32_in_nibabel_order(st, "critic." + e.name, e.shape, critic->params.data() + e.offset);
      add_f32_in_nibabel_order(st, "optimizer.critic." + e.name + ".exp_avg", e.shape, critic->adam_m.data() + e.offset);
      add_f32_in_nibabel_order(st, "optimizer.critic." + e.name + ".exp_avg_sq", e.shape, critic->adam_v.data() + e.offset);
    }
    if (!critic->spectral.empty()) add_spectral_vectors(st, "critic.", *critic_layout, critic->spectral);
    st.set_metadata("critic", critic_layout->config().describe());
  }
  const bool optimizer = !state.adam_m.empty();
  for (const ParamEntry& e : layout.table().entries()) {
    add_f32_in_nibabel_order(st, e.name, e.shape, state.params.data() + e.offset);
    if (optimizer) {
      add_f32_in_nibabel_order(st, "optimizer." + e.name + ".exp_avg", e.shape, state.adam_m.data() + e.offset);
      add_f32_in_nibabel_order(st, "optimizer." + e.name + ".exp_avg_sq", e.shape, state.adam_v.data() + e.offset);
    }
  }
  const int bn = layout.bn_channels();
  for (size_t b = 0; b < layout.units().size(); ++b)
    for (size_t u = 0; u < layout.units()[b].size(); ++u) {
      const UnitLayout& unit = layout.units()[b][u];
      const std::string name = layout.bn_name(int(b), int(u));
      st.add_f32(name + ".running_mean", {unit.input_channels}, state.running.data() + unit.stats_offset);
      st.add_f32(name + ".running_var", {unit.input_channels}, state.running.data() + bn + unit.stats_offset);
      st.add_i64(name + ".num_batches_tracked", {}, &state.step);
    }
  st.set_metadata("format", kFormat);
  st.set_metadata("spatial_axes", kSpatialAxes);
  st.set_metadata("model", layout.config().describe());
  st.set_metadata("step", std::to_string(state.step));
  st.set_metadata("config", state.config_json);
  st.save(path);
}

GeneratorState load_checkpoint(const std::string& path, const GeneratorLayout& layout) {
  const CheckpointReader reader(path);
  const SafeTensors& st = reader.file();
  GeneratorState s;
  s.params.assign(size_t(layout.table().padded_size()), 0.f);
  const bool optimizer = st.has("optimizer." + layout.table().entry(0).name + ".exp_avg");
  if (optimizer) s.adam_m = s.params, s.adam_v = s.params;
  for (const ParamEntry& e : layout.table().entries()) {
    const std::vector<float> values = reader.f32(e.name, e.shape);
    std::copy(values.begin(), values.end(), s.params.begin() + e.offset);
    if (optimizer) {
      const std::vector<float> m = reader.f32("optimizer." + e.name + ".exp_avg", e.shape),
                               v = reader.f32("optimizer." + e.name + ".exp_avg_sq", e.shape);
      std::copy(m.begin(), m.end(), s.adam_m.begin() + e.offset);
      std::copy(v.begin(), v.end(), s.adam_v.begin() + e.offset);
    }
  }
  const int bn = layout.bn_channels();
  s.running.assign(size_t(2 * bn), 0.f);
  for (size_t b = 0; b < layout.units().size(); ++b)
    for (size_t u = 0; u < layout.units()[b].size(); ++u) {
      const UnitLayout& unit = layout.units()[b][u];
      const std::string name = layout.bn_name(int(b), int(u));
      const std::vector<float> mean = st.f32(name + ".running_mean", {unit.input_channels});
      const std::vector<float> var = st.f32(name + ".running_var", {unit.input_channels});
      std::copy(mean.begin(), mean.end(), s.running.begin() + unit.stats_offset);
      std::copy(var.begin(), var.end(), s.running.begin() + bn + unit.stats_offset);
    }
  try {
    s.step = std::stoll(st.metadata("step"));
  } catch (const std::invalid_argument&) {
    fail(path + ": metadata 'step' is not a number");
  }
  s.config_json = st.metadata("config");
  return s;
}

std::optional<CriticState> load_critic(const std::string& path, const CriticLayout& layout) {
  const CheckpointReader reader(path);
  if (!reader.file().has("critic." + layout.table().entry(0).name)) return std::nullopt;
  CriticState s;
  s.params.assign(size_t(layout.table().padded_size()), 0.f);
  s.adam_m = s.params;
  s.adam_v = s.params;
  for (const ParamEntry& e : layout.table().entries()) {
    const std::string name = "critic." + e.name;
    for (auto [tensor, target] : {std::pair{name, &s.params}, std::pair{"optimizer." + name + ".exp_avg", &s.adam_m},
                                  std::pair{"optimizer." + name + ".exp_avg_sq", &s.adam_v}}) {
      const std::vector<float> values = reader.f32(tensor, e.shape);
      std::copy(values.begin(), values.end(), target->begin() + e.offset);
    }
  }
  const std::vector<CriticWeightMatrix> matrices = layout.weight_matrices();
  if (reader.file().has("critic." + layout.table().entry(matrices[0].weight).name + "_u")) {
    const SpectralVectorLayout at(layout);
    s.spectral.assign(size_t(at.size), 0.f);
    for (size_t k = 0; k < matrices.size(); ++k) {
      const ParamEntry& w = layout.table().entry(matrices[k].weight);
      const std::vector<float> u = reader.file().f32("critic." + w.name + "_u", {matrices[k].rows});
      const std::vector<float> v = reader.f32("critic." + w.name + "_v", spectral_v_shape(w));
      std::copy(u.begin(), u.end(), s.spectral.begin() + at.u[k]);
      std::copy(v.begin(), v.end(), s.spectral.begin() + at.v[k]);
    }
  }
  return s;
}

}  // namespace mdcsrn
