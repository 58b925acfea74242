#include "models/train_config.h"

#include "engine/error.h"

namespace mdcsrn {

using nlohmann::json;

json default_train_config() {
  return json{
      {"data", {{"manifest", ""}, {"train_split", "train"}, {"val_split", "val"}}},
      {"model", {{"blocks", 4}, {"units", 4}, {"growth", 16}, {"activation", "elu"}, {"slope", 0.01}}},
      {"sampler", {{"mode", "uniform"}, {"patch", 32}, {"min_brain_fraction", 0.0}, {"cerebellum_fraction", 0.5},
                   {"candidate_stride", 1}, {"patches_per_epoch", 0}}},
      {"train", {{"batch", 64}, {"epochs", 50}, {"lr", 1e-3}, {"lr_halve_every", 10}, {"beta1", 0.9}, {"beta2", 0.999},
                 {"eps", 1e-8}, {"loss", "l1"}, {"device", "auto"}, {"precision", "fp32"}, {"deterministic", true}, {"val_patches", 256}, {"log_every", 10},
                 {"seed", 0}}},
      {"wgan", {{"enabled", false}, {"n_critic", 5}, {"adversarial_weight", 1e-3}, {"clip", 0.01}, {"pretrain_epochs", 0},
                {"critic_lr", 1e-3}, {"critic_lr_halve_every", 10}, {"critic_widths", {64, 128, 256, 512}}, {"critic_hidden", 1024},
                {"critic_slope", 0.2}}},
      {"output", {{"dir", "runs/train"}}}};
}

json merge_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  return merge_config(default_train_config(), file, overrides);
}

GeneratorConfig parse_model_config(const json& m) {
  GeneratorConfig c;
  c.blocks = m.at("blocks").get<int>();
  c.units = m.at("units").get<int>();
  c.growth = m.at("growth").get<int>();
  const std::string activation = m.at("activation").get<std::string>();
  if (activation != "elu" && activation != "leaky_relu") fail("model.activation: expected elu or leaky_relu, got '" + activation + "'");
  c.activation = {activation == "elu" ? Activation::Elu : Activation::LeakyRelu, m.at("slope").get<float>()};
  return c;
}

TrainConfig parse_train_config(const json& j) {
  TrainConfig c;
  try {
    c.manifest = j.at("data").at("manifest").get<std::string>();
    c.train_split = j.at("data").at("train_split").get<std::string>();
    c.val_split = j.at("data").at("val_split").get<std::string>();
    c.model = parse_model_config(j.at("model"));
    const json& s = j.at("sampler");
    c.sampler.mode = parse_sampling_mode(s.at("mode").get<std::string>());
    c.sampler.patch = s.at("patch").get<int>();
    c.sampler.min_brain_fraction = s.at("min_brain_fraction").get<double>();
    c.sampler.cerebellum_fraction = s.at("cerebellum_fraction").get<double>();
    c.sampler.candidate_stride = s.at("candidate_stride").get<int>();
    c.sampler.patches_per_epoch = s.at("patches_per_epoch").get<int64_t>();
    const json& t = j.at("train");
    c.batch = t.at("batch").get<int>();
    c.epochs = t.at("epochs").get<int>();
    c.adam = AdamConfig{t.at("lr").get<float>(), t.at("beta1").get<float>(), t.at("beta2").get<float>(), t.at("eps").get<float>()};
    c.lr_halve_every = t.at("lr_halve_every").get<int>();
    const std::string loss = t.at("loss").get<std::string>();
    if (loss != "l1" && loss != "l2") fail("train.loss: expected l1 or l2, got '" + loss + "'");
    c.loss = loss == "l1" ? LossKind::L1 : LossKind::L2;
    c.device = t.at("device").get<std::string>();
    if (c.device != "auto" && c.device != "cpu" && c.device != "cuda") fail("train.device: expected auto, cpu or cuda, got '" + c.device + "'");
    c.precision = t.at("precision").get<std::string>();
    if (c.precision != "fp32" && c.precision != "tf32" && c.precision != "bf16")
      fail("train.precision: expected fp32, tf32 or bf16, got '" + c.precision + "'");
    c.deterministic = t.at("deterministic").get<bool>();
    c.val_patches = t.at("val_patches").get<int>();
    c.log_every = t.at("log_every").get<int>();
    c.seed = t.at("seed").get<uint64_t>();
    c.sampler.seed = c.seed;
    c.out_dir = j.at("output").at("dir").get<std::string>();
    const json& g = j.at("wgan");
    c.wgan.enabled = g.at("enabled").get<bool>();
    c.wgan.n_critic = g.at("n_critic").get<int>();
    c.wgan.adversarial_weight = g.at("adversarial_weight").get<float>();
    c.wgan.clip = g.at("clip").get<float>();
    c.wgan.pretrain_epochs = g.at("pretrain_epochs").get<int>();
    c.wgan.critic_adam = AdamConfig{g.at("critic_lr").get<float>(), c.adam.beta1, c.adam.beta2, c.adam.eps};
    c.wgan.critic_lr_halve_every = g.at("critic_lr_halve_every").get<int>();
    const auto widths = g.at("critic_widths").get<std::vector<int>>();
    if (widths.size() != 4) fail("training configuration: wgan.critic_widths must list 4 channel counts");
    std::copy(widths.begin(), widths.end(), c.wgan.critic.widths.begin());
    c.wgan.critic.hidden = g.at("critic_hidden").get<int>();
    c.wgan.critic.slope = g.at("critic_slope").get<float>();
    c.wgan.critic.patch = c.sampler.patch;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(std::string("training configuration: ") + e.what());
  }
  if (c.manifest.empty()) fail("training configuration: data.manifest is not set");
  if (c.sampler.patch < 2 || c.sampler.patch % 2 != 0)
    fail("sampler.patch: " + std::to_string(c.sampler.patch) + (c.sampler.patch % 2 != 0 ? " is odd" : " is too small") +
         "; the patch size must be even and at least 2, e.g. 32");
  if (c.batch < 1 || c.epochs < 1 || c.lr_halve_every < 1 || c.log_every < 1 || c.val_patches < 0)
    fail("training configuration: batch, epochs, lr_halve_every and log_every must be positive");
  if (c.wgan.enabled) {
    if (c.wgan.n_critic < 1 || c.wgan.critic_lr_halve_every < 1 || c.wgan.pretrain_epochs < 0 || !(c.wgan.clip > 0.f))
      fail("training configuration: wgan.n_critic, wgan.critic_lr_halve_every and wgan.clip must be positive, wgan.pretrain_epochs not negative");
    if (c.sampler.patch % 16 != 0) fail("training configuration: the WGAN critic needs sampler.patch to be a multiple of 16");
  }
  return c;
}

}  // namespace mdcsrn
