#include "models/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "engine/arena.h"
#include "engine/device.h"
#ifdef MDCSRN_HAVE_NCCL
#include "engine/nccl_collectives.h"
#endif
#include "engine/error.h"
#include "io/nibabel_order.h"
#include "io/progress.h"
#include "io/safetensors.h"
#include "io/volume.h"
#include "models/checkpoint.h"
#include "models/critic.h"
#include "models/generator_step.h"
#include "models/wgan_step.h"

namespace mdcsrn {
namespace {

namespace fs = std::filesystem;

// Training on one backend; everything device-resident lives in memory of Backend::memory. Over
// several ranks, each trains on its share of every global batch, and rank 0 alone writes.
template <class Backend>
class Trainer {
 public:
  using T = typename Backend::Scalar;
  static_assert(sizeof(T) == sizeof(float), "training runs in float");

  // device_ranks: the ranks' collectives over Backend::memory (NCCL for GPU ranks); comm's own
  // for host memory when null.
  Trainer(const TrainConfig& c, const nlohmann::json& json, const TrainOptions& o, Backend be, CudaContext* ctx, const Communicator& comm,
          const Collectives* device_ranks = nullptr)
      : c_(c), json_(json), o_(o), be_(be), ctx_(ctx), comm_(comm), leader_(comm.leader()), progress_(o.progress && leader_),
        layout_(c.model), shape_{local_batch_size(c, comm), 1, c.sampler.patch, c.sampler.patch, c.sampler.patch},
        train_(load_split_dataset(Manifest::load(c.manifest), c.train_split, c.sampler, Backend::memory, c.residence, &comm)),
        step_(layout_, be, ctx, int(shape_.n), c.sampler.patch, c.loss), arena_(step_.arena()), generator_(step_.generator()),
        centres_(Backend::memory, shape_.n * kCentreFields) {
    // Under an MPI launcher, even with one rank (which exercises the collectives, NCCL's on a GPU).
    if (comm.distributed()) {
      if (!o.dump_step.empty()) fail("--dump-step: runs as one process, not under mpirun (it records one batch)");
      step_.spread_over(comm, device_ranks ? *device_ranks : comm);
    }
    if (Backend::memory == MemoryKind::Device && leader_)
      std::printf("training data: %.0f MiB in %s (data.residence %s)%s\n", double(train_.resident_bytes()) / (1 << 20),
                  train_.memory() == MemoryKind::Pinned ? "pinned host memory, read by the GPU over the bus" : "GPU memory",
                  residence_name(c.residence), train_.node_shared() ? "; one host copy a node, shared by its ranks" : "");
    steps_per_epoch_ = (train_.epoch_size() + c.batch - 1) / c.batch;
    train_.set_epoch_size(steps_per_epoch_ * c.batch);
    if (c.wgan.enabled) {
      critic_layout_.emplace(c.wgan.critic);
      wgan_ = std::make_unique<WganStep<Backend>>(*critic_layout_, be, step_, c.wgan.adversarial_weight, c.wgan.constraint, c.seed);
      schedule_ = WganSchedule{int64_t(c.wgan.pretrain_epochs) * steps_per_epoch_, c.wgan.n_critic};
    }
    prepare_validation();
  }

  TrainSummary run() {
    const std::string checkpoint = (fs::path(c_.out_dir) / "checkpoint.safetensors").string();
    GeneratorState state;
    if (!o_.resume.empty()) {
      state = load_checkpoint(o_.resume, layout_);
      if (state.adam_m.empty()) fail(o_.resume + ": has no optimizer state to resume from");
      if (nlohmann::json::parse(state.config_json) != json_ && leader_)
        std::printf("note: resuming with a configuration that differs from the checkpoint's\n");
    } else {
      state.params = initial_generator_parameters(layout_, c_.seed);
      state.adam_m.assign(state.params.size(), 0.f);
      state.adam_v = state.adam_m;
    }
    raw_copy(Backend::memory, arena_.params(), MemoryKind::Host, state.params.data(), bytes(state.params.size()));
    raw_copy(Backend::memory, arena_.adam_m(), MemoryKind::Host, state.adam_m.data(), bytes(state.adam_m.size()));
    raw_copy(Backend::memory, arena_.adam_v(), MemoryKind::Host, state.adam_v.data(), bytes(state.adam_v.size()));
    if (!state.running.empty())
      raw_copy(Backend::memory, generator_.running_stats(), MemoryKind::Host, state.running.data(), bytes(state.running.size()));
    if (wgan_) load_critic_state();
    // Everything is checked: only now is anything written.
    claim_output_folder(checkpoint);
    if (o_.on_start && leader_) o_.on_start();

    const int64_t total = int64_t(c_.epochs) * steps_per_epoch_;
    const int64_t stop = o_.stop_after_steps >= 0 ? std::min(total, o_.stop_after_steps) : total;
    TrainSummary summary;
    summary.steps_per_epoch = steps_per_epoch_;
    summary.patches_per_epoch = steps_per_epoch_ * c_.batch;
    summary.val_lr_psnr = val_lr_psnr_;
    summary.checkpoint = checkpoint;
    std::ofstream log;
    if (leader_) log.open((fs::path(c_.out_dir) / "log.jsonl").string(), std::ios::app);
    const auto write_log = [&](const nlohmann::json& record) {
      if (leader_) log << record.dump() << "\n" << std::flush;
    };

    int64_t step = state.step;
    while (step < stop) {
      const int64_t epoch = step / steps_per_epoch_;
      const int64_t epoch_end = std::min(stop, (epoch + 1) * steps_per_epoch_);
      ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c_.epochs), epoch_end - step, "steps");
      const int64_t epoch_start = step;
      const auto epoch_clock = std::chrono::steady_clock::now();
      const float lr = float(double(c_.adam.lr) * std::pow(0.5, double(epoch / c_.lr_halve_every)));
      int64_t estimates = 0;  // the epoch's logged Wasserstein estimates, and their largest magnitude
      double largest_estimate = 0;
      for (; step < epoch_end; ++step) {
        train_step(step, lr, step == state.step && !o_.dump_step.empty());
        const bool last = step + 1 == epoch_end;
        if ((step + 1) % c_.log_every == 0 || last) {
          const double loss = read_loss();
          require_finite("loss", loss, step, checkpoint);
          summary.losses.push_back(loss);
          summary.last_loss = loss;
          nlohmann::json record{{"step", step + 1}, {"epoch", epoch + 1}, {"loss", loss}, {"lr", lr}};
          std::string critic_text;
          if (wgan_ && schedule_.adversarial(step)) {
            const WganStats w = wgan_->stats();
            require_finite("critic loss", w.critic_loss, step, checkpoint);
            summary.critic_losses.push_back(w.critic_loss);
            record["l1"] = loss;
            record["critic_loss"] = w.critic_loss;
            record["wasserstein"] = w.wasserstein;
            record["adversarial"] = w.adversarial;
            if (c_.wgan.constraint.kind == Lipschitz::GradientPenalty) record["gradient_penalty"] = w.gradient_penalty;
            record["critic_lr"] = critic_lr(epoch);
            ++estimates;
            largest_estimate = std::max(largest_estimate, std::fabs(w.wasserstein));
            char text[48];
            std::snprintf(text, sizeof text, ", W %.4g", w.wasserstein);
            critic_text = text;
          }
          write_log(record);
          if (progress_) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_clock).count();
            char extra[112];
            std::snprintf(extra, sizeof extra, "%s %.5f%s, %.0f patches/s", wgan_ ? "L1" : "loss", loss, critic_text.c_str(),
                          double((step + 1 - epoch_start) * c_.batch) / seconds);
            bar.update(step + 1 - epoch_start, extra);
          }
        }
      }
      const bool epoch_done = step % steps_per_epoch_ == 0;
      nlohmann::json record{{"epoch", epoch + 1}, {"step", step}, {"loss", summary.last_loss}};
      if (epoch_done && has_validation_) {
        const double psnr = validation_psnr();
        summary.val_psnr.push_back(psnr);
        record["val_psnr"] = psnr;
        record["val_lr_psnr"] = val_lr_psnr_;
      }
      // A critic whose estimate never left the rounding of its scores taught the generator nothing.
      const bool inert = estimates > 0 && largest_estimate < c_.wgan.inert_below;
      if (inert) {
        summary.inert_epochs.push_back(epoch + 1);
        record["critic_inert"] = true;
        record["largest_wasserstein"] = largest_estimate;
      }
      save(checkpoint, step);
      write_log(record);
      if (progress_) {
        char text[160];
        int used = 0;
        if (record.contains("val_psnr"))
          used = std::snprintf(text, sizeof text, "loss %.5f, val PSNR %.2f dB (LR %.2f dB)", summary.last_loss, record["val_psnr"].get<double>(), val_lr_psnr_);
        else
          used = std::snprintf(text, sizeof text, "loss %.5f", summary.last_loss);
        if (inert) std::snprintf(text + used, sizeof text - size_t(used), "; critic inert (|W| <= %.2g)", largest_estimate);
        bar.finish(text);
      }
    }
    summary.steps = step;
    return summary;
  }

  // The generator's forward through the fused bf16 kernels, in training steps and validation: ctx
  // a GPU's context, or the fused CPU kernels' for the CPU backend.
  template <class Context>
  void enable_fast_path(Context& ctx) {
    step_.enable_fast_path(ctx);
  }

 private:
  static size_t bytes(size_t floats) { return floats * sizeof(float); }

  // Stops the run on a NaN or Inf, naming the checkpoint that is left as it was.
  static void require_finite(const std::string& what, double value, int64_t step, const std::string& checkpoint) {
    if (std::isfinite(value)) return;
    fail("the " + what + " became " + (std::isnan(value) ? "NaN" : "infinite") + " by step " + std::to_string(step + 1) +
         "; stopped, the last good checkpoint is " + (fs::exists(checkpoint) ? checkpoint : std::string("(none yet)")));
  }

  float critic_lr(int64_t epoch) const {
    return float(double(c_.wgan.critic_adam.lr) * std::pow(0.5, double(epoch / c_.wgan.critic_lr_halve_every)));
  }

  void train_step(int64_t step, float lr, bool dump) {
    AdamConfig adam = c_.adam;
    adam.lr = lr;
    if (wgan_ && schedule_.adversarial(step)) {
      AdamConfig critic_adam = c_.wgan.critic_adam;
      critic_adam.lr = critic_lr(step / steps_per_epoch_);
      const int64_t generator_t = schedule_.generator_updates(step) ? schedule_.generator_update(step) : 0;
      if (!dump) return wgan_->run(train_, step, adam, critic_adam, schedule_.critic_update(step), generator_t);
      wgan_->critic_gradients(train_, step);
      dump_critic_step();
      wgan_->update_critic(critic_adam, schedule_.critic_update(step));
      if (generator_t > 0) wgan_->step_generator(adam, generator_t);
      return;
    }
    if (!dump) return step_.run(train_, step, adam);
    step_.forward_backward(train_, step);
    dump_step();
    step_.update(adam, step + 1);
  }

  double read_loss() { return step_.loss(); }

  std::vector<float> download(const float* p, int64_t count) const {
    std::vector<float> out(static_cast<size_t>(count));
    raw_copy(MemoryKind::Host, out.data(), Backend::memory, p, bytes(out.size()));
    return out;
  }

  // The output folder, refused when it holds another run (TrainOptions::overwrite). Rank 0 decides
  // and tells the others before it writes anything: a rank looking later would see rank 0's new log.
  void claim_output_folder(const std::string& checkpoint) const {
    const fs::path out(c_.out_dir), log = out / "log.jsonl", config = out / "config.json";
    std::string refusal;
    bool occupied = false;
    if (leader_) {
      occupied = fs::exists(checkpoint) || fs::exists(log);
      const bool resumes_it = !o_.resume.empty() && fs::exists(checkpoint) && fs::equivalent(o_.resume, checkpoint);
      if (o_.overwrite && resumes_it)
        refusal = "--overwrite: it would remove " + checkpoint + ", which --resume continues; drop one of them";
      else if (occupied && !resumes_it && !o_.overwrite)
        refusal = c_.out_dir + ": holds an earlier run (" + (fs::exists(checkpoint) ? "checkpoint.safetensors" : "log.jsonl") + "); --resume " +
                  checkpoint + " continues it, --overwrite starts over (removing its files), or choose another output.dir";
    }
    if (comm_.distributed()) {
      int64_t length = int64_t(refusal.size());
      comm_.broadcast(&length, sizeof length, 0);
      refusal.resize(size_t(length));
      if (length > 0) comm_.broadcast(refusal.data(), size_t(length), 0);
    }
    if (!refusal.empty()) fail(refusal);
    if (!leader_) return;
    if (occupied && o_.overwrite)
      for (const fs::path& p : {fs::path(checkpoint), log, config}) fs::remove(p);
    fs::create_directories(out);
  }

  // Every rank holds the same state; rank 0 writes it, and beside it the configuration that made it.
  void save(const std::string& path, int64_t step) {
    if (!leader_) return;
    be_.synchronize();
    GeneratorState s;
    s.params = download(arena_.params(), arena_.size());
    s.adam_m = download(arena_.adam_m(), arena_.size());
    s.adam_v = download(arena_.adam_v(), arena_.size());
    s.running = download(generator_.running_stats(), 2 * int64_t(layout_.bn_channels()));
    s.step = step;
    s.config_json = json_.dump();
    if (!wgan_) {
      save_checkpoint(path, layout_, s);
    } else {
      const Arena& a = wgan_->arena();
      CriticState critic{download(a.params(), a.size()), download(a.adam_m(), a.size()), download(a.adam_v(), a.size()), {}};
      if (CriticSpectralNorm<Backend>* spectral = wgan_->spectral()) critic.spectral = spectral->vectors().download();
      save_checkpoint(path, layout_, s, &*critic_layout_, &critic);
    }
    write_text_atomically((fs::path(c_.out_dir) / "config.json").string(), json_.dump(2) + "\n");
  }

  // From the checkpoint being resumed when it has a critic, else freshly initialised (a WGAN run
  // may start from a generator-only checkpoint, e.g. an L1-pretrained one).
  void load_critic_state() {
    std::optional<CriticState> critic;
    if (!o_.resume.empty()) critic = load_critic(o_.resume, *critic_layout_);
    const bool resumed = critic.has_value();
    if (!critic) {
      if (!o_.resume.empty() && leader_) std::printf("note: %s has no critic; the critic starts from its initialisation\n", o_.resume.c_str());
      critic.emplace();
      critic->params = initial_critic_parameters(*critic_layout_, c_.seed);
      critic->adam_m.assign(critic->params.size(), 0.f);
      critic->adam_v = critic->adam_m;
    }
    const Arena& a = wgan_->arena();
    raw_copy(Backend::memory, a.params(), MemoryKind::Host, critic->params.data(), bytes(critic->params.size()));
    raw_copy(Backend::memory, a.adam_m(), MemoryKind::Host, critic->adam_m.data(), bytes(critic->adam_m.size()));
    raw_copy(Backend::memory, a.adam_v(), MemoryKind::Host, critic->adam_v.data(), bytes(critic->adam_v.size()));
    if (CriticSpectralNorm<Backend>* spectral = wgan_->spectral()) {
      if (critic->spectral.empty()) {
        if (resumed && leader_)
          std::printf("note: %s has no spectral normalisation vectors; they start from the critic's weights\n", o_.resume.c_str());
        critic->spectral = initial_spectral_vectors(*critic_layout_, critic->params, c_.seed);
      }
      spectral->set_vectors(critic->spectral);
    }
  }

  // The first step's tensors, before the update, for debugging and cross-checking: the batch, the
  // generator's output, loss and parameters, and with_grads its parameter gradients; spatial axes in
  // nibabel's order, as in checkpoints.
  SafeTensors dumped_batch(bool with_grads) {
    be_.synchronize();
    SafeTensors st;
    const std::vector<int64_t> dims{shape_.n, 1, shape_.d, shape_.h, shape_.w};
    add_f32_in_nibabel_order(st, "input", dims, step_.input().download().data());
    add_f32_in_nibabel_order(st, "target", dims, step_.target().download().data());
    add_f32_in_nibabel_order(st, "output", dims, step_.output().download().data());
    st.add_f32("loss", {1}, step_.loss_buffer().download().data());
    const std::vector<float> params = download(arena_.params(), arena_.size()), grads = download(arena_.grads(), arena_.size());
    for (const ParamEntry& e : layout_.table().entries()) {
      add_f32_in_nibabel_order(st, "param." + e.name, e.shape, params.data() + e.offset);
      if (with_grads) add_f32_in_nibabel_order(st, "grad." + e.name, e.shape, grads.data() + e.offset);
    }
    st.set_metadata("config", json_.dump());
    // Which generator made it: "fast" (the fused bf16 kernels) or "reference" (fp32 or TF32, as configured).
    st.set_metadata("generator_path", step_.fast_path() ? "fast" : "reference");
    return st;
  }
  void dump_step() { dumped_batch(true).save(o_.dump_step); }

  // An adversarial first step: the batch and generator as above (no generator gradients: they come
  // after the critic's update), the critic's parameters (critic.param.<name>; under spectral
  // normalisation also critic.param.<weight>_u and _v), its scores of SR and HR, and its gradients
  // for mean D(SR) - mean D(HR) plus any gradient penalty (critic.grad.<name>, of the raw weights),
  // before its update.
  void dump_critic_step() {
    SafeTensors st = dumped_batch(false);
    const Arena& a = wgan_->arena();
    const std::vector<float> params = download(a.params(), a.size()), grads = download(a.grads(), a.size());
    for (const ParamEntry& e : critic_layout_->table().entries()) {
      add_f32_in_nibabel_order(st, "critic.param." + e.name, e.shape, params.data() + e.offset);
      add_f32_in_nibabel_order(st, "critic.grad." + e.name, e.shape, grads.data() + e.offset);
    }
    // Under spectral normalisation, the vectors the step used (after its power iteration).
    if (CriticSpectralNorm<Backend>* spectral = wgan_->spectral())
      add_spectral_vectors(st, "critic.param.", *critic_layout_, spectral->vectors().download());
    st.add_f32("fake_scores", {shape_.n}, wgan_->fake_scores().download().data());
    st.add_f32("real_scores", {shape_.n}, wgan_->real_scores().download().data());
    // Under the gradient penalty, where it was evaluated and its value (gp_weight * the mean).
    if (c_.wgan.constraint.kind == Lipschitz::GradientPenalty) {
      add_f32_in_nibabel_order(st, "critic.interpolates", {shape_.n, 1, shape_.d, shape_.h, shape_.w}, wgan_->interpolates().download().data());
      st.add_f32("critic.gradient_penalty", {1}, wgan_->penalty().download().data());
    }
    st.save(o_.dump_step);
  }

  void prepare_validation() {
    const Manifest m = Manifest::load(c_.manifest);
    if (c_.val_patches == 0 || m.split(c_.val_split).empty()) return;
    SamplerConfig vc = c_.sampler;
    vc.mode = SamplingMode::Uniform;
    vc.seed = c_.seed + 1;
    const PatchDataset val = load_split_dataset(m, c_.val_split, vc, Backend::memory, c_.residence, &comm_);
    // Global batches of validation patches; rank r evaluates its share of each.
    val_batches_ = (c_.val_patches + c_.batch - 1) / c_.batch;
    val_lr_ = Buffer<T>(Backend::memory, val_batches_ * shape_.numel());
    val_hr_ = Buffer<T>(Backend::memory, val_batches_ * shape_.numel());
    double mse = 0;
    for (int64_t b = 0; b < val_batches_; ++b) {
      val.sample(b * c_.batch + comm_.rank() * shape_.n, int(shape_.n), val_lr_.data() + b * shape_.numel(),
                 val_hr_.data() + b * shape_.numel(), centres_.data(), ctx_);
      be_.loss_forward(LossKind::L2, val_tensor(val_lr_, b), val_tensor(val_hr_, b), step_.loss_buffer().data());
      mse += read_loss() / double(val_batches_);
    }
    val_lr_psnr_ = 10 * std::log10(1.0 / mse);
    has_validation_ = true;
  }

  Tensor<T> val_tensor(const Buffer<T>& b, int64_t index) const { return Tensor<T>(b.data() + index * shape_.numel(), shape_); }

  // PSNR (peak 1, the normalised HR's range) over the fixed validation patches, eval-mode BN
  // (read_loss is the global batch's).
  double validation_psnr() {
    double mse = 0;
    for (int64_t b = 0; b < val_batches_; ++b) {
      step_.run_generator(val_tensor(val_lr_, b), step_.batch(step_.output()), NormMode::Eval);
      be_.loss_forward(LossKind::L2, step_.batch(step_.output()), val_tensor(val_hr_, b), step_.loss_buffer().data());
      mse += read_loss() / double(val_batches_);
    }
    return 10 * std::log10(1.0 / mse);
  }

  const TrainConfig& c_;
  const nlohmann::json& json_;
  const TrainOptions& o_;
  Backend be_;
  CudaContext* ctx_;
  const Communicator& comm_;
  bool leader_, progress_;
  GeneratorLayout layout_;
  Shape5 shape_;
  PatchDataset train_;
  GeneratorStep<Backend> step_;
  Arena& arena_;
  Generator<Backend>& generator_;
  Buffer<int32_t> centres_;  // validation draws only
  std::optional<CriticLayout> critic_layout_;  // WGAN only
  std::unique_ptr<WganStep<Backend>> wgan_;
  WganSchedule schedule_;
  int64_t steps_per_epoch_ = 0;
  bool has_validation_ = false;
  int64_t val_batches_ = 0;
  Buffer<T> val_lr_, val_hr_;
  double val_lr_psnr_ = 0;
};

}  // namespace

int local_batch_size(const TrainConfig& c, const Communicator& comm) {
  if (c.batch % comm.size() != 0)
    fail("train.batch: " + std::to_string(c.batch) + " does not split evenly over " + std::to_string(comm.size()) + " ranks");
  return c.batch / comm.size();
}

TrainSummary train_generator(const TrainConfig& config, const nlohmann::json& config_json, const TrainOptions& options,
                             const Communicator& comm) {
  const bool cuda = config.device == "cuda" || (config.device == "auto" && cuda_device_count() > 0);
#ifdef MDCSRN_HAVE_CUDA
  if (cuda) {
    // Each rank on its node-local GPU; under an MPI launcher, the gradients and BatchNorm's
    // partials cross between the GPUs over NCCL.
    CudaContext ctx(comm.local_rank() % std::max(1, cuda_device_count()));
    ctx.set_tf32(config.precision != "fp32");
    ctx.set_deterministic(config.deterministic);
    std::unique_ptr<Collectives> nccl;
    if (comm.distributed()) {
#ifdef MDCSRN_HAVE_NCCL
      nccl = std::make_unique<NcclCollectives>(comm, ctx);
#else
      fail("train.device cuda under mpirun: this build has no NCCL (GPU ranks); train.device=cpu runs CPU ranks");
#endif
    }
    Trainer<GpuBackend> trainer(config, config_json, options, GpuBackend{&ctx}, &ctx, comm, nccl.get());
    if (config.precision == "bf16") {
      const std::string why = fast_path_unsupported(GeneratorLayout(config.model));
      if (why.empty()) {
        trainer.enable_fast_path(ctx);
        if (comm.leader()) std::printf("precision bf16: the generator on the fused bf16 path (forward, backward, Adam)\n");
      } else if (comm.leader()) {
        std::printf("note: the fast bf16 path does not cover %s (%s); training on the reference path in TF32\n",
                    config.model.describe().c_str(), why.c_str());
      }
    }
    TrainSummary s = trainer.run();
    s.device = describe_device(DeviceKind::Cuda);
    return s;
  }
#else
  if (cuda) fail("train.device cuda: this build has no CUDA backend");
#endif
  Trainer<CpuBackend<float>> trainer(config, config_json, options, CpuBackend<float>{}, nullptr, comm);
  CpuFusedContext fused;
  if (config.precision == "bf16") {
    std::string why = fast_path_unsupported(GeneratorLayout(config.model));
    if (why.empty()) why = cpu_fused_unsupported();
    if (why.empty()) {
      trainer.enable_fast_path(fused);
      if (comm.leader()) std::printf("precision bf16: the generator on the fused bf16 CPU kernels, %s\n", cpu_fused_kernels().c_str());
    } else if (comm.leader()) {
      std::printf("note: the fused bf16 CPU kernels do not cover %s (%s); training on the fp32 reference path\n",
                  config.model.describe().c_str(), why.c_str());
    }
  }
  TrainSummary s = trainer.run();
  s.device = describe_device(DeviceKind::Cpu);
  if (comm.size() > 1) s.device = std::to_string(comm.size()) + " ranks x " + s.device;
  return s;
}

}  // namespace mdcsrn
