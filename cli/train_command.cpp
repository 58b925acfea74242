#include <cstdio>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/communicator.h"
#include "engine/error.h"
#include "io/volume.h"
#include "models/trainer.h"

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn train [--config FILE] [--set section.key=value ...] [options]

Trains the mDCSRN generator on the training split of a prepared dataset (mdcsrn prepare), or
mDCSRN-WGAN with --set wgan.enabled=true (configs/paper_wgan_*.json).
Settings: built-in defaults (the paper's: b4u4 ELU, Adam lr 1e-3 halved every 10 epochs,
batch 64, 50 epochs, L1 loss, 32^3 patches, uniform sampling) <- --config FILE <- --set.
See configs/*.json for every key. An epoch is as many patches as there are non-overlapping 32^3
tiles of the training split that overlap the brain (sampler.patches_per_epoch overrides), rounded
up to whole batches.

Writes OUT/checkpoint.safetensors (every epoch, atomically; the final one is the model; PyTorch's
names, kernels in nibabel's axis order: see docs/training.md), beside it OUT/config.json (the
settings that made it) and OUT/log.jsonl (loss every train.log_every steps, validation PSNR every
epoch). Nothing is written until the settings, the manifest's data and any --resume checkpoint are
checked. An output folder holding an earlier run is refused: --resume OUT/checkpoint.safetensors
continues it, --overwrite starts over.

On a GPU, train.precision chooses the arithmetic: fp32 (the default: the reference path,
FMA-only convolutions), tf32 (the reference path with TF32 tensor cores) or bf16 (the fast path: the generator's forward, backward and Adam through our fused bf16 tensor-core
kernels; configurations it does not cover, e.g. a growth other than 16, fall back to tf32 and
train says so; a WGAN critic stays on cuDNN). train.deterministic=false allows cuDNN's non-deterministic convolution algorithms
(faster; a resumed run then no longer repeats bit for bit). On the CPU, bf16 runs the generator's
forward, backward and Adam through the fused bf16 CPU kernels (the GPU fast path's design, bf16
storage: VDPBF16PS products where the CPU has AVX512-BF16, else AVX2+FMA in fp32), where the model
and the CPU allow it, else fp32 with a note; fp32 and tf32 compute in fp32.

mDCSRN-WGAN (the "wgan" section): the critic (3-D SRGAN-style discriminator with LayerNorm;
critic_widths, critic_hidden, critic_slope = LeakyReLU slope, 0.2; 1 makes it the identity, which
reproduces the authors' code's linear critic) steps on every batch with loss mean D(SR) - mean
D(HR), Adam (critic_lr halved every critic_lr_halve_every epochs; critic_beta1, critic_beta2), kept
Lipschitz by lipschitz: "clip" (the paper's: every critic weight clipped to +-clip, 0.01),
"spectral" (every convolution and linear layer divided by its largest singular value, from
power_iterations power iterations a step) or "gp" (a gradient penalty, gp_weight (10) x
mean (||grad D(x)|| - 1)^2 at random mixes x of SR and HR, added to the critic's loss). The generator
steps on every n_critic-th batch (5) with loss L1 + adversarial_weight (1e-3) x -mean D(SR), after
pretrain_epochs of L1 alone. The log adds critic_loss, wasserstein (mean D(HR) - mean D(SR)), l1,
adversarial and, under gp, gradient_penalty, and reports an epoch whose
estimates all stayed below inert_below (1e-5) as one with an inert critic. Checkpoints hold both
networks and both optimisers; mdcsrn infer reads the generator from them.

options:
  --config FILE        JSON configuration
  --set KEY=VALUE      override one setting, e.g. --set train.epochs=5 (repeatable)
  --out DIR            output folder (same as --set output.dir=DIR)
  --manifest FILE      dataset manifest (same as --set data.manifest=FILE)
  --resume FILE        continue from a checkpoint; the run continues bit-identically
  --overwrite          start over in an output folder that holds an earlier run (its checkpoint,
                       log and config.json are removed once the new run's inputs are checked);
                       without it, or --resume of that folder's checkpoint, such a folder is refused
  --steps N            stop after N steps in total (checkpointing), e.g. to resume later
  --dump-step FILE     write the first step's parameters, batch, output, loss and gradients (a
                       WGAN run's adversarial first step: the critic's parameters, scores and
                       gradients); scripts/pytorch_crosscheck.py checks it against PyTorch
  --quiet              no progress bar
  --print-config       print the settings (defaults <- --config <- --set) as JSON and exit,
                       without checking that a run could start (a manifest, say); every key
                       with its value (docs/training.md says what each means)

Data-parallel (docs/data-parallel.md): under mpirun -np N (or srun), the N ranks train one model,
each on train.batch / N samples of every batch (an error unless N divides train.batch), with
BatchNorm's statistics over the whole batch and the gradients summed over the ranks; rank 0
writes. The run sees the same patches whatever N, and a checkpoint resumes on any number of
ranks. GPU ranks each drive their node-local GPU and exchange over NCCL, on either path.
)";

}  // namespace

int run_train(int argc, char** argv) {
  std::vector<char*> rest;
  std::vector<std::string> overrides = take_repeated(argc, argv, "--set", "section.key=value", rest);
  const Args args(int(rest.size()), rest.data(), 2, {"config", "out", "manifest", "resume", "steps", "dump-step"}, {"quiet", "print-config", "overwrite"},
                  "mdcsrn train");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.has("out")) overrides.push_back("output.dir=\"" + args.get("out") + "\"");
  if (args.has("manifest")) overrides.push_back("data.manifest=\"" + args.get("manifest") + "\"");
  const nlohmann::json json = merge_train_config(args.get("config"), overrides);
  if (args.has("print-config")) {  // after the merge, which refuses unknown keys and values of another kind
    std::printf("%s\n", json.dump(2).c_str());
    return 0;
  }
  const TrainConfig config = parse_train_config(json);
  TrainOptions options;
  options.resume = args.get("resume");
  options.dump_step = args.get("dump-step");
  options.stop_after_steps = args.has("steps") ? args.get_int("steps", 0) : -1;
  options.progress = !args.has("quiet");
  options.overwrite = args.has("overwrite");

  const Communicator& world = Communicator::world();
  const int local_batch = local_batch_size(config, world);
  if (!world.leader()) {  // rank 0 speaks and writes for all
    train_generator(config, json, options);
    return 0;
  }
  options.on_start = [&] {  // once the run is checked: a refused run prints its one error line alone
    std::printf("train: %s (%lld parameters), %s sampling, batch %d of %d^3, %d epochs -> %s\n", config.model.describe().c_str(),
                (long long)GeneratorLayout(config.model).table().parameter_count(), sampling_mode_name(config.sampler.mode), config.batch,
                config.sampler.patch, config.epochs, config.out_dir.c_str());
    if (world.distributed()) std::printf("data-parallel: %d rank%s x batch %d\n", world.size(), world.size() > 1 ? "s" : "", local_batch);
    if (config.wgan.enabled) {
      const CriticLayout critic(config.wgan.critic);
      const CriticConstraint& k = config.wgan.constraint;
      char lipschitz[64];
      if (k.kind == Lipschitz::Clip)
        std::snprintf(lipschitz, sizeof lipschitz, "clip %g", double(k.clip));
      else if (k.kind == Lipschitz::Spectral)
        std::snprintf(lipschitz, sizeof lipschitz, "spectral normalisation (%d power iteration%s a step)", k.power_iterations,
                      k.power_iterations == 1 ? "" : "s");
      else
        std::snprintf(lipschitz, sizeof lipschitz, "gradient penalty (weight %g)", double(k.gp_weight));
      std::printf("wgan: %s, %lld parameters; n_critic %d, adversarial weight %g, %s, %d L1 pretraining epochs\n",
                  config.wgan.critic.describe().c_str(), (long long)critic.table().parameter_count(), config.wgan.n_critic,
                  double(config.wgan.adversarial_weight), lipschitz, config.wgan.pretrain_epochs);
    }
    std::fflush(stdout);
  };
  const TrainSummary s = train_generator(config, json, options);
  std::printf("trained on %s: %lld steps (%lld per epoch of %lld patches), last loss %.5f", s.device.c_str(), (long long)s.steps,
              (long long)s.steps_per_epoch, (long long)s.patches_per_epoch, s.last_loss);
  if (!s.val_psnr.empty()) std::printf(", validation PSNR %.2f dB (LR input %.2f dB)", s.val_psnr.back(), s.val_lr_psnr);
  std::printf("\ncheckpoint: %s\n", s.checkpoint.c_str());
  if (!s.inert_epochs.empty())
    std::printf("note: the critic was inert in %zu of the adversarial epochs (every logged Wasserstein estimate below wgan.inert_below, "
                "%g; the first: epoch %lld): there the generator trained on L1 alone. wgan.lipschitz=\"spectral\" gives the critic "
                "room to learn (docs/training.md)\n",
                s.inert_epochs.size(), config.wgan.inert_below, (long long)s.inert_epochs.front());
  return 0;
}

}  // namespace mdcsrn::cli
