#include "engine/communicator.h"
#include "models/generator.h"
#include "models/generator_step.h"
#ifdef MDCSRN_HAVE_NCCL
#include "engine/nccl_collectives.h"
#endif
#include "tests/gpu/gpu_support.h"
#include "tests/network_support.h"
#include "tests/sampler_support.h"

namespace mdcsrn::test {
namespace {

// One forward and backward of the paper's generator on the GPU against the CPU in double, from
// the same weights and batch. fp32 (FMA-only convolutions): errors compound over 18 layers and
// BatchNorm's batch statistics, bound 1e-4. TF32: operands rounded to 10 bits, bound 1e-2.
void compare(bool tf32, double tolerance) {
  CAPTURE(tf32);
  const GeneratorLayout L(GeneratorConfig::paper());
  const Shape5 shape{4, 1, 16, 16, 16};
  const GeneratorCase c = generator_case(L, shape, 21, 22);

  CudaContext ctx;
  ctx.set_tf32(tf32);
  Buffer<float> p_dev = device_copy(c.params), g_dev(MemoryKind::Device, int64_t(c.params.size()));
  DeviceTensor x_dev(c.x), out_dev(c.x), dout_dev(c.dout), dx_dev(c.x);
  Generator<GpuBackend> g(L, GpuBackend{&ctx}, shape);
  g.forward(p_dev.data(), x_dev.in(), out_dev.view, NormMode::Train);
  g.backward(p_dev.data(), g_dev.data(), x_dev.in(), dout_dev.in(), NormMode::Train, &dx_dev.view);
  ctx.synchronize();

  const double e_out = relative_error(gather(out_dev.download(c.x)), gather(c.out));
  const double e_dx = relative_error(gather(dx_dev.download(c.x)), gather(c.dx));
  std::string worst_name;
  const double worst = worst_parameter_error(L.table(), g_dev.download(), c.grads, worst_name);
  MESSAGE((tf32 ? "TF32" : "fp32") << ": output " << e_out << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " (" << worst_name << ")");
  CHECK(e_out < tolerance);
  CHECK(e_dx < tolerance);
  CHECK(worst < tolerance);
}

// The small generator the step tests train: 2 blocks of 2 units, growth 16, ELU.
GeneratorLayout small_layout() { return GeneratorLayout(GeneratorConfig{2, 2, 16, {Activation::Elu, 0.f}}); }

// Sets a step's parameters to the seed-3 initial ones, the same for every run a test compares.
void start_from_initial_parameters(GeneratorStep<GpuBackend>& step, const GeneratorLayout& L) {
  const std::vector<float> initial = initial_generator_parameters(L, 3);
  raw_copy(MemoryKind::Device, step.arena().params(), MemoryKind::Host, initial.data(), initial.size() * sizeof(float));
}

// `count` floats of device memory, copied to the host.
std::vector<float> on_host(const float* device, int64_t count) {
  std::vector<float> host(static_cast<size_t>(count));
  raw_copy(MemoryKind::Host, host.data(), MemoryKind::Device, device, host.size() * sizeof(float));
  return host;
}

TEST_SUITE("gpu_generator") {
  TEST_CASE("a generator step on the GPU matches the CPU reference, fp32") { compare(false, 1e-4); }
  TEST_CASE("a generator step on the GPU matches the CPU reference, TF32") { compare(true, 1e-2); }

  TEST_CASE("the fast path's step graphs replay exactly the steps their work gives when run directly") {
    // Steps 0-5 with a learning-rate change at step 3 and a jump back to step 1 (as a resume
    // would), through the graphs and without them: the same parameters, moments, statistics and
    // loss, bit for bit.
    const GeneratorLayout L = small_layout();
    SamplerConfig sc;
    sc.patch = 16;
    sc.mode = SamplingMode::Balanced;
    const std::vector<SamplerSubject> subjects = {phantom_subject(1, 64, 56, 48), phantom_subject(2, 48, 48, 40)};
    struct Result {
      std::vector<float> params, m, running, loss;
    };
    const auto train = [&](bool graphs) {
      CudaContext ctx;
      const PatchDataset data(subjects, sc, MemoryKind::Device);
      GeneratorStep<GpuBackend> step(L, GpuBackend{&ctx}, &ctx, 4, sc.patch, LossKind::L1);
      step.enable_fast_path(ctx);
      step.use_step_graphs(graphs);
      start_from_initial_parameters(step, L);
      AdamConfig adam;
      for (const int64_t s : {0, 1, 2, 3, 4, 1, 2, 3}) {
        adam.lr = s >= 3 ? 5e-4f : 1e-3f;
        step.run(data, s, adam);
      }
      ctx.synchronize();
      const int64_t count = step.arena().size(), running = 2 * int64_t(L.bn_channels());
      return Result{on_host(step.arena().params(), count), on_host(step.arena().adam_m(), count),
                    on_host(step.generator().running_stats(), running), {float(step.loss())}};
    };
    const Result graphed = train(true), direct = train(false);
    CHECK(std::isfinite(graphed.loss[0]));
    CHECK(graphed.params == direct.params);
    CHECK(graphed.m == direct.m);
    CHECK(graphed.running == direct.running);
    CHECK(graphed.loss == direct.loss);
  }

  TEST_CASE("data.residence host: the training data in pinned host memory gives the device-resident steps, bit for bit, on both paths") {
    const GeneratorLayout L = small_layout();
    SamplerConfig sc;
    sc.patch = 16;
    sc.mode = SamplingMode::Balanced;
    const std::vector<SamplerSubject> subjects = {phantom_subject(1, 64, 56, 48), phantom_subject(2, 48, 48, 40)};
    for (const bool fast : {false, true}) {
      CAPTURE(fast);
      const auto train = [&](Residence residence) {
        CudaContext ctx;
        const PatchDataset data(subjects, sc, MemoryKind::Device, residence);
        CHECK(data.memory() == (residence == Residence::Host ? MemoryKind::Pinned : MemoryKind::Device));
        GeneratorStep<GpuBackend> step(L, GpuBackend{&ctx}, &ctx, 4, sc.patch, LossKind::L1);
        if (fast) step.enable_fast_path(ctx);  // its step graphs sample from the pinned volumes
        start_from_initial_parameters(step, L);
        for (int64_t s = 0; s < 4; ++s) step.run(data, s, AdamConfig{});
        ctx.synchronize();
        return on_host(step.arena().params(), step.arena().size());
      };
      const std::vector<float> host = train(Residence::Host), device = train(Residence::Device);
      CHECK(host == device);
      CHECK(host != initial_generator_parameters(L, 3));
    }
  }

#ifdef MDCSRN_HAVE_NCCL
  TEST_CASE("NCCL: steps spread over one GPU rank are the single-process steps, bit for bit, on both paths") {
    // The data-parallel path on a device (NCCL's all-gathers of BatchNorm's partials, its gradient
    // all-reduce; on the fast path inside the step graphs), over a one-rank NCCL communicator:
    // with one rank every collective is a copy, so the bits must be those of the plain steps. Two
    // or more ranks need a machine with several GPUs (mpirun; the emulated steps are checked over
    // two ranks in CI, mpi.mpi_emu_data_parallel).
    const GeneratorLayout L = small_layout();
    SamplerConfig sc;
    sc.patch = 16;
    const std::vector<SamplerSubject> subjects = {phantom_subject(1, 64, 56, 48)};
    for (const bool fast : {false, true}) {
      CAPTURE(fast);
      const auto train = [&](bool spread) {
        CudaContext ctx;
        const Communicator alone;
        NcclCollectives nccl(alone, ctx);
        const PatchDataset data(subjects, sc, MemoryKind::Device);
        GeneratorStep<GpuBackend> step(L, GpuBackend{&ctx}, &ctx, 4, sc.patch, LossKind::L1);
        if (fast) step.enable_fast_path(ctx);
        if (spread) step.spread_over(alone, nccl);
        start_from_initial_parameters(step, L);
        for (int64_t s = 0; s < 4; ++s) step.run(data, s, AdamConfig{});  // the fast path replays graphs from step 1
        ctx.synchronize();
        return std::make_pair(on_host(step.arena().params(), step.arena().size()),
                              on_host(step.generator().running_stats(), 2 * int64_t(L.bn_channels())));
      };
      const auto spread = train(true), plain = train(false);
      CHECK(spread.first == plain.first);
      CHECK(spread.second == plain.second);
      CHECK(spread.first != initial_generator_parameters(L, 3));
    }
  }
#endif
}

}  // namespace
}  // namespace mdcsrn::test

#include "models/checkpoint.h"
#include "models/trainer.h"
#include "tests/io_support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("gpu_trainer") {
  TEST_CASE("GPU training resumes bit for bit (deterministic cuDNN algorithms and reductions), reference and fast path") {
    // growth 16 for bf16: the fast path covers it (train prints which path it took).
    for (const std::string precision : {"fp32", "bf16"}) {
      CAPTURE(precision);
      TempDir dir("gpu-resume-" + precision);
      const std::string manifest = make_phantom_dataset(dir);
      auto config = [&](const std::string& out) {
        return merge_train_config("", {"data.manifest=\"" + manifest + "\"", "output.dir=\"" + out + "\"", "model.blocks=2",
                                       "model.units=2", precision == "bf16" ? "model.growth=16" : "model.growth=8", "sampler.patch=8",
                                       "sampler.mode=balanced", "sampler.patches_per_epoch=32", "train.batch=8", "train.epochs=2",
                                       "train.val_patches=8", "train.device=cuda", "train.precision=\"" + precision + "\""});
      };
      const nlohmann::json a = config(dir.path("straight")), b = config(dir.path("split"));
      TrainOptions quiet;
      quiet.progress = false;
      TrainOptions first = quiet, second = quiet;
      first.stop_after_steps = 5;
      second.resume = dir.path("split/checkpoint.safetensors");
      const TrainSummary s = train_generator(parse_train_config(a), a, quiet);
      train_generator(parse_train_config(b), b, first);
      train_generator(parse_train_config(b), b, second);
      const GeneratorLayout layout(parse_train_config(a).model);
      const GeneratorState x = load_checkpoint(dir.path("straight/checkpoint.safetensors"), layout);
      const GeneratorState y = load_checkpoint(dir.path("split/checkpoint.safetensors"), layout);
      CHECK(s.steps == 8);
      CHECK(x.params == y.params);
      CHECK(x.adam_m == y.adam_m);
      CHECK(x.running == y.running);
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test

#include "models/inference.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("gpu_inference") {
  TEST_CASE("whole-volume inference on the GPU matches the CPU (eval-mode BatchNorm, both stitchings), reference and fast path") {
    // fp32: rounding only (1e-5). bf16, the fast path (growth 16): bf16 features, 2e-2.
    for (const std::string precision : {"fp32", "bf16"}) {
      CAPTURE(precision);
      const GeneratorConfig model{2, 2, precision == "bf16" ? 16 : 8, {Activation::Elu, 0.f}};
      const GeneratorLayout layout(model);
      GeneratorState state;
      state.params = initial_generator_parameters(layout, 31);
      std::mt19937_64 rng(32);
      state.running.assign(size_t(2 * layout.bn_channels()), 0.f);
      for (int c = 0; c < layout.bn_channels(); ++c)
        state.running[size_t(c)] = 0.1f * float(c % 5), state.running[size_t(layout.bn_channels() + c)] = 0.5f + 0.1f * float(c % 3);
      const std::array<int64_t, 3> dims{37, 29, 33};
      const std::vector<float> volume = random_values<float>(dims[0] * dims[1] * dims[2], rng);
      for (Stitching s : {Stitching::MarginCrop, Stitching::Gaussian}) {
        InferenceOptions o;
        o.patch = 16;
        o.batch = 8;
        o.stitching = s;
        o.precision = precision;
        const std::vector<float> cpu = super_resolve(model, state, volume, dims, o, nullptr);
        CudaContext ctx;
        std::string arithmetic;
        const std::vector<float> gpu = super_resolve(model, state, volume, dims, o, &ctx, &arithmetic);
        CHECK(arithmetic == (precision == "bf16" ? "bf16 fast path" : "fp32 reference path"));
        const double error = relative_error(convert<double>(gpu), convert<double>(cpu));
        MESSAGE(precision << " inference: relative error " << error);
        CHECK(error < (precision == "bf16" ? 2e-2 : 1e-5));
      }
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
