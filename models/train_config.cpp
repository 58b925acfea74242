#include "models/train_config.h"

#include "engine/error.h"

namespace mdcsrn {

using nlohmann::json;

json default_train_config() {
  return json{
      {"data", {{"manifest", ""}, {"train_split", "train"}, {"val_split", "val"}, {"residence", "auto"}}},
      {"model", {{"blocks", 4}, {"units", 4}, {"growth", 16}, {"activation", "elu"}, {"slope", 0.01}}},
      {"sampler", {{"mode", "uniform"}, {"patch", 32}, {"min_brain_fraction", 0.0}, {"cerebellum_fraction", 0.5},
                   {"candidate_stride", 1}, {"patches_per_epoch", 0}}},
      {"train", {{"batch", 64}, {"epochs", 50}, {"lr", 1e-3}, {"lr_halve_every", 10}, {"beta1", 0.9}, {"beta2", 0.999},
                 {"eps", 1e-8}, {"loss", "l1"}, {"device", "auto"}, {"precision", "fp32"}, {"deterministic", true}, {"val_patches", 256}, {"log_every", 10},
                 {"seed", 0}}},
      {"wgan", {{"enabled", false}, {"n_critic", 5}, {"adversarial_weight", 1e-3}, {"lipschitz", "clip"}, {"clip", 0.01},
                {"power_iterations", 1}, {"gp_weight", 10.0}, {"pretrain_epochs", 0}, {"critic_lr", 1e-3}, {"critic_beta1", 0.9}, {"critic_beta2", 0.999},
                {"critic_lr_halve_every", 10}, {"inert_below", 1e-5}, {"critic_widths", {64, 128, 256, 512}}, {"critic_hidden", 1024},
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
  if (c.blocks < 1) fail_setting("model.blocks", c.blocks, "must be a positive integer, e.g. 4");
  if (c.units < 1) fail_setting("model.units", c.units, "must be a positive integer, e.g. 4");
  if (c.growth < 1) fail_setting("model.growth", c.growth, "must be a positive integer, e.g. 16");
  const std::string activation = m.at("activation").get<std::string>();
  if (activation != "elu" && activation != "leaky_relu") fail("model.activation: expected elu or leaky_relu, got '" + activation + "'");
  c.activation = {activation == "elu" ? Activation::Elu : Activation::LeakyRelu, m.at("slope").get<float>()};
  return c;
}

namespace {

void require_positive(const char* key, int64_t value, int example) {
  if (value < 1) fail_setting(key, value, "must be a positive integer, e.g. " + std::to_string(example));
}

void require_fraction(const char* key, double value) {
  if (!(value >= 0 && value <= 1)) fail_setting(key, value, "must be a fraction in [0, 1]");
}

// Every setting within what it allows, each refusal naming its key (the defaults as examples).
void check_train_settings(const TrainConfig& c) {
  if (c.sampler.patch < 2 || c.sampler.patch % 2 != 0)
    fail("sampler.patch: " + std::to_string(c.sampler.patch) + (c.sampler.patch % 2 != 0 ? " is odd" : " is too small") +
         "; the patch size must be even and at least 2, e.g. 32");
  require_fraction("sampler.min_brain_fraction", c.sampler.min_brain_fraction);
  require_fraction("sampler.cerebellum_fraction", c.sampler.cerebellum_fraction);
  require_positive("sampler.candidate_stride", c.sampler.candidate_stride, 1);
  if (c.sampler.patches_per_epoch < 0)
    fail_setting("sampler.patches_per_epoch", c.sampler.patches_per_epoch, "must not be negative (0: the non-overlapping tiles that touch the brain)");
  require_positive("train.batch", c.batch, 64);
  require_positive("train.epochs", c.epochs, 50);
  require_positive("train.lr_halve_every", c.lr_halve_every, 10);
  require_positive("train.log_every", c.log_every, 10);
  if (c.val_patches < 0) fail_setting("train.val_patches", c.val_patches, "must not be negative (0: no validation)");
  if (!(c.adam.lr > 0)) fail_setting("train.lr", c.adam.lr, "must be positive, e.g. 0.001");
  if (!(c.adam.beta1 >= 0 && c.adam.beta1 < 1)) fail_setting("train.beta1", c.adam.beta1, "must be in [0, 1), e.g. 0.9");
  if (!(c.adam.beta2 >= 0 && c.adam.beta2 < 1)) fail_setting("train.beta2", c.adam.beta2, "must be in [0, 1), e.g. 0.999");
  if (!(c.adam.eps > 0)) fail_setting("train.eps", c.adam.eps, "must be positive, e.g. 1e-8");
  if (!c.wgan.enabled) return;
  require_positive("wgan.n_critic", c.wgan.n_critic, 5);
  require_positive("wgan.critic_lr_halve_every", c.wgan.critic_lr_halve_every, 10);
  if (c.wgan.pretrain_epochs < 0) fail_setting("wgan.pretrain_epochs", c.wgan.pretrain_epochs, "must not be negative");
  if (!(c.wgan.constraint.clip > 0)) fail_setting("wgan.clip", c.wgan.constraint.clip, "must be positive, e.g. 0.01");
  require_positive("wgan.power_iterations", c.wgan.constraint.power_iterations, 1);
  if (!(c.wgan.constraint.gp_weight > 0)) fail_setting("wgan.gp_weight", c.wgan.constraint.gp_weight, "must be positive, e.g. 10");
  if (!(c.wgan.inert_below >= 0)) fail_setting("wgan.inert_below", c.wgan.inert_below, "must not be negative, e.g. 1e-5 (0: never report)");
  if (!(c.wgan.critic_adam.lr > 0)) fail_setting("wgan.critic_lr", c.wgan.critic_adam.lr, "must be positive, e.g. 0.001");
  if (!(c.wgan.critic_adam.beta1 >= 0 && c.wgan.critic_adam.beta1 < 1))
    fail_setting("wgan.critic_beta1", c.wgan.critic_adam.beta1, "must be in [0, 1), e.g. 0.9 (0 with spectral normalisation)");
  if (!(c.wgan.critic_adam.beta2 >= 0 && c.wgan.critic_adam.beta2 < 1))
    fail_setting("wgan.critic_beta2", c.wgan.critic_adam.beta2, "must be in [0, 1), e.g. 0.999");
  for (int w : c.wgan.critic.widths)
    if (w < 1) fail_setting("wgan.critic_widths", c.wgan.critic.widths, "every width must be a positive integer, e.g. [64, 128, 256, 512]");
  require_positive("wgan.critic_hidden", c.wgan.critic.hidden, 1024);
  if (!(c.wgan.critic.slope >= 0)) fail_setting("wgan.critic_slope", c.wgan.critic.slope, "must not be negative, e.g. 0.2");
  if (c.sampler.patch % 16 != 0)
    fail_setting("sampler.patch", c.sampler.patch, "the WGAN critic's four stride-2 convolutions need a multiple of 16, e.g. 32");
}

}  // namespace

TrainConfig parse_train_config(const json& j) {
  TrainConfig c;
  try {
    c.manifest = j.at("data").at("manifest").get<std::string>();
    c.train_split = j.at("data").at("train_split").get<std::string>();
    c.val_split = j.at("data").at("val_split").get<std::string>();
    c.residence = parse_residence(j.at("data").at("residence").get<std::string>());
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
    const std::string lipschitz = g.at("lipschitz").get<std::string>();
    if (lipschitz != "clip" && lipschitz != "spectral" && lipschitz != "gp")
      fail("wgan.lipschitz: expected clip, spectral or gp, got '" + lipschitz + "'");
    c.wgan.constraint.kind = lipschitz == "clip" ? Lipschitz::Clip : lipschitz == "spectral" ? Lipschitz::Spectral : Lipschitz::GradientPenalty;
    c.wgan.constraint.clip = g.at("clip").get<float>();
    c.wgan.constraint.power_iterations = g.at("power_iterations").get<int>();
    c.wgan.constraint.gp_weight = g.at("gp_weight").get<float>();
    c.wgan.pretrain_epochs = g.at("pretrain_epochs").get<int>();
    c.wgan.critic_adam =
        AdamConfig{g.at("critic_lr").get<float>(), g.at("critic_beta1").get<float>(), g.at("critic_beta2").get<float>(), c.adam.eps};
    c.wgan.critic_lr_halve_every = g.at("critic_lr_halve_every").get<int>();
    c.wgan.inert_below = g.at("inert_below").get<double>();
    const auto widths = g.at("critic_widths").get<std::vector<int>>();
    if (widths.size() != 4) fail_setting("wgan.critic_widths", widths, "must list 4 channel counts, e.g. [64, 128, 256, 512]");
    std::copy(widths.begin(), widths.end(), c.wgan.critic.widths.begin());
    c.wgan.critic.hidden = g.at("critic_hidden").get<int>();
    c.wgan.critic.slope = g.at("critic_slope").get<float>();
    c.wgan.critic.patch = c.sampler.patch;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(std::string("training configuration: ") + e.what());
  }
  if (c.manifest.empty()) fail("data.manifest: not set; give --manifest FILE (a manifest.json written by mdcsrn prepare)");
  check_train_settings(c);
  return c;
}

}  // namespace mdcsrn
