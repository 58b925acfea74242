#include <random>

#include "engine/error.h"
#include "io/nibabel_order.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The engine's value at [.., z, y, x] of a tensor of engine shape `shape`, flat index of the rest `outer`.
float engine_at(const std::vector<float>& v, const std::vector<int64_t>& shape, int64_t outer, int64_t z, int64_t y, int64_t x) {
  const size_t r = shape.size();
  return v[size_t(((outer * shape[r - 3] + z) * shape[r - 2] + y) * shape[r - 1] + x)];
}

// A copy of a checkpoint file with its format metadata replaced and every rank >= 4 tensor's
// spatial axes reversed: a version-1 (engine order) file from a version-2 one.
void write_engine_order_copy(const std::string& from, const std::string& to, const std::string& format) {
  const SafeTensors src = SafeTensors::load(from);
  SafeTensors dst;
  for (const auto& [name, t] : src.tensors()) {
    if (t.dtype == "I64") {
      dst.add_i64(name, t.shape, src.i64(name, t.shape).data());
      continue;
    }
    const std::vector<float> values = src.f32(name, t.shape);
    dst.add_f32(name, reversed_spatial_shape(t.shape), reverse_spatial_axes(values.data(), t.shape).data());
  }
  for (const std::string key : {"model", "step", "config", "critic"}) dst.set_metadata(key, src.metadata(key));
  dst.set_metadata("format", format);
  dst.save(to);
}

TEST_SUITE("checkpoint") {
  TEST_CASE("nibabel's order reverses the last three axes of tensors of rank 4 and more, and is its own inverse") {
    const std::vector<int64_t> shape{2, 3, 4, 5, 6};  // [outer..., z, y, x], every edge different
    const std::vector<float> v = random_values(2 * 3 * 4 * 5 * 6, 1);
    const std::vector<int64_t> stored_shape = reversed_spatial_shape(shape);
    CHECK(stored_shape == std::vector<int64_t>{2, 3, 6, 5, 4});
    const std::vector<float> stored = reverse_spatial_axes(v.data(), shape);
    for (int64_t outer = 0; outer < 6; ++outer)
      for (int64_t z = 0; z < 4; ++z)
        for (int64_t y = 0; y < 5; ++y)
          for (int64_t x = 0; x < 6; ++x) REQUIRE(engine_at(stored, stored_shape, outer, x, y, z) == engine_at(v, shape, outer, z, y, x));
    CHECK(reverse_spatial_axes(stored.data(), stored_shape) == v);
    const std::vector<int64_t> linear{3, 4};
    CHECK(reversed_spatial_shape(linear) == linear);
    CHECK(reverse_spatial_axes(v.data(), linear) == std::vector<float>(v.begin(), v.begin() + 12));
  }

  TEST_CASE("a WGAN checkpoint stores kernels and LayerNorm affines in nibabel's order and reads back bit for bit") {
    TempDir dir("checkpoint");
    const GeneratorLayout layout(GeneratorConfig{2, 2, 4, {Activation::Elu, 0.01f}});
    const CriticLayout critic_layout(CriticConfig{16, {2, 3, 4, 5}, 6, 0.2f});
    const size_t n = size_t(layout.table().padded_size()), nc = size_t(critic_layout.table().padded_size());
    GeneratorState g;
    g.params = random_values(n, 2), g.adam_m = random_values(n, 3), g.adam_v = random_values(n, 4);
    g.running = random_values(size_t(2 * layout.bn_channels()), 5);
    g.step = 17;
    g.config_json = "{}";
    CriticState c{random_values(nc, 6), random_values(nc, 7), random_values(nc, 8)};
    // The padding between tensors is zero in an arena; a file does not hold it.
    for (auto* v : {&g.params, &g.adam_m, &g.adam_v}) {
      std::vector<float> padded(n, 0.f);
      for (const ParamEntry& e : layout.table().entries()) std::copy_n(v->begin() + e.offset, e.numel, padded.begin() + e.offset);
      *v = padded;
    }
    for (auto* v : {&c.params, &c.adam_m, &c.adam_v}) {
      std::vector<float> padded(nc, 0.f);
      for (const ParamEntry& e : critic_layout.table().entries()) std::copy_n(v->begin() + e.offset, e.numel, padded.begin() + e.offset);
      *v = padded;
    }
    const std::string path = dir.path("wgan.safetensors");
    save_checkpoint(path, layout, g, &critic_layout, &c);

    const SafeTensors st = SafeTensors::load(path);
    CHECK(st.metadata("format") == "mdcsrn-generator-2");
    const ParamEntry& conv = layout.table().entry(layout.table().find("blocks.1.units.1.conv.weight"));
    const std::vector<int64_t> conv_shape = reversed_spatial_shape(conv.shape);
    const std::vector<float> stored_conv = st.f32(conv.name, conv_shape);
    const std::vector<float> engine_conv(g.params.begin() + conv.offset, g.params.begin() + conv.offset + conv.numel);
    for (int64_t outer = 0; outer < conv.shape[0] * conv.shape[1]; ++outer)
      for (int64_t i = 0; i < 27; ++i) {
        const int64_t z = i / 9, y = i / 3 % 3, x = i % 3;
        REQUIRE(engine_at(stored_conv, conv_shape, outer, x, y, z) == engine_at(engine_conv, conv.shape, outer, z, y, x));
      }
    const ParamEntry& norm = critic_layout.table().entry(critic_layout.table().find("layers.0.norm.weight"));  // [C, 8, 8, 8]
    const std::vector<float> stored_norm = st.f32("critic." + norm.name, reversed_spatial_shape(norm.shape));
    CHECK(stored_norm == reverse_spatial_axes(c.params.data() + norm.offset, norm.shape));
    CHECK(stored_norm != std::vector<float>(c.params.begin() + norm.offset, c.params.begin() + norm.offset + norm.numel));
    CHECK(st.i64(layout.bn_name(1, 1) + ".num_batches_tracked", {}) == std::vector<int64_t>{17});

    const GeneratorState back = load_checkpoint(path, layout);
    CHECK(back.params == g.params);
    CHECK(back.adam_m == g.adam_m);
    CHECK(back.adam_v == g.adam_v);
    CHECK(back.running == g.running);
    CHECK(back.step == 17);
    const std::optional<CriticState> critic_back = load_critic(path, critic_layout);
    REQUIRE(critic_back.has_value());
    CHECK(critic_back->params == c.params);
    CHECK(critic_back->adam_v == c.adam_v);

    // Version 1 (before 2026-12-04) stored the engine's order; it is still read as it was meant.
    write_engine_order_copy(path, dir.path("v1.safetensors"), "mdcsrn-generator-1");
    CHECK(load_checkpoint(dir.path("v1.safetensors"), layout).params == g.params);
    CHECK(load_critic(dir.path("v1.safetensors"), critic_layout)->params == c.params);
    write_engine_order_copy(path, dir.path("v9.safetensors"), "mdcsrn-generator-9");
    CHECK_THROWS_WITH_AS(load_checkpoint(dir.path("v9.safetensors"), layout),
                         doctest::Contains("v9.safetensors: unknown checkpoint format 'mdcsrn-generator-9'"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
