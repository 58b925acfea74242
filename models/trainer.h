#pragma once
// Training the generator: patches from the sampler, forward, L1 (or L2) loss, backward, Adam with
// the learning rate halved every few epochs; progress, a JSONL log, validation PSNR every epoch and
// a checkpoint every epoch. The final checkpoint is the model: nothing is selected on test data.
// With wgan.enabled, the WGAN critic trains beside the generator (models/wgan_step.h).
#include <functional>
#include <string>
#include <vector>

#include "engine/communicator.h"
#include "models/train_config.h"

namespace mdcsrn {

struct TrainOptions {
  std::string resume;              // continue from this checkpoint (bit-identical continuation)
  std::string dump_step;           // write the first step's tensors to this safetensors file
  int64_t stop_after_steps = -1;   // stop, checkpointing, once this many steps are done in total
  bool progress = true;
  // An output folder holding an earlier run (checkpoint.safetensors or log.jsonl) is refused unless
  // this run resumes that folder's own checkpoint, or overwrite is set: then its files are removed
  // once everything else has been checked, before the first step.
  bool overwrite = false;
  // Called once everything is checked and the output folder is claimed, before the first step.
  std::function<void()> on_start;
};

struct TrainSummary {
  std::string device;
  int64_t steps = 0, steps_per_epoch = 0, patches_per_epoch = 0;
  double last_loss = 0;
  std::vector<double> losses;     // at every log point (the L1/L2 term)
  std::vector<double> critic_losses;  // WGAN: at every log point of the adversarial phase
  std::vector<int64_t> inert_epochs;  // WGAN: epochs (from 1) whose logged |W| all stayed below wgan.inert_below
  std::vector<double> val_psnr;   // per completed epoch of this run
  double val_lr_psnr = 0;         // PSNR of the LR inputs of the validation patches
  std::string checkpoint;
};

// Each rank's share of train.batch; an error unless the ranks divide it.
int local_batch_size(const TrainConfig& config, const Communicator& comm);

// Under mpirun (comm's ranks), one model data-parallel: train.batch is the global batch, split
// evenly over the ranks; the run sees the same patches and gives the same model (up to the
// order of float additions) whatever the number of ranks; rank 0 writes the checkpoints, the
// log and the progress.
TrainSummary train_generator(const TrainConfig& config, const nlohmann::json& config_json, const TrainOptions& options,
                             const Communicator& comm = Communicator::world());

}  // namespace mdcsrn
