#pragma once
// Training configuration: a JSON document (configs/*.json) over built-in defaults, with
// command-line overrides of the form section.key=value. Unknown keys are errors, so a typo never
// passes silently.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "io/patch_dataset.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "models/critic_constraint.h"
#include "models/critic_layout.h"
#include "models/generator_layout.h"
#include "models/json_config.h"

namespace mdcsrn {

// mDCSRN-WGAN (REFERENCE.md section 3): the critic steps on every batch (loss mean D(SR) - mean
// D(HR), kept Lipschitz by clipping or spectral normalisation), the generator on every n_critic-th
// batch of the adversarial phase (loss L1 + adversarial_weight * -mean D(SR)), after
// pretrain_epochs of L1-only training. Each network has its own Adam and learning-rate schedule.
struct WganConfig {
  bool enabled = false;
  CriticConfig critic;  // critic.patch follows sampler.patch
  int n_critic = 5;
  float adversarial_weight = 1e-3f;
  CriticConstraint constraint;
  int pretrain_epochs = 0;
  AdamConfig critic_adam;
  int critic_lr_halve_every = 10;  // epochs
  // An epoch whose logged Wasserstein estimates all stay below this in magnitude is reported as
  // one where the critic is inert: the adversarial term then does nothing, and training is L1's.
  double inert_below = 1e-5;
};

struct TrainConfig {
  std::string manifest;
  std::string train_split = "train", val_split = "val";
  Residence residence = Residence::Auto;  // where a GPU run keeps the training data (patch_dataset.h)
  GeneratorConfig model;
  SamplerConfig sampler;
  int batch = 64;
  int epochs = 50;
  AdamConfig adam;
  int lr_halve_every = 10;  // epochs
  LossKind loss = LossKind::L1;
  std::string device = "auto";  // auto, cpu, cuda
  // GPU arithmetic: fp32 (the reference path, FMA-only convolutions), tf32 (the reference path
  // with TF32 tensor cores) or bf16 (the fast path: the generator's forward, backward and Adam
  // through the fused bf16 kernels, for the configurations it covers; others fall back to tf32).
  // The CPU computes in fp32 whatever this says.
  std::string precision = "fp32";
  // false lets cuDNN use its non-deterministic (atomic-accumulating) algorithms where its
  // heuristics rank them first: faster, but a resumed GPU run no longer repeats bit for bit.
  bool deterministic = true;
  int val_patches = 256;
  int log_every = 10;  // steps between progress updates (each costs a device synchronisation)
  uint64_t seed = 0;
  std::string out_dir = "runs/train";
  WganConfig wgan;
};

// The paper's settings (REFERENCE.md section 4): b4u4 ELU, Adam lr 1e-3 halved every 10 epochs,
// batch 64, 50 epochs, L1, 32^3 patches, uniform sampling.
nlohmann::json default_train_config();

// defaults <- file (if any) <- overrides ("train.epochs=2"; values parsed as JSON, else strings).
nlohmann::json merge_train_config(const std::string& file, const std::vector<std::string>& overrides);
TrainConfig parse_train_config(const nlohmann::json& j);
// The "model" section alone (as stored in checkpoints' configuration).
GeneratorConfig parse_model_config(const nlohmann::json& model);

}  // namespace mdcsrn
