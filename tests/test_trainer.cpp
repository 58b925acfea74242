#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "io/evaluation.h"
#include "io/manifest.h"
#include "io/safetensors.h"
#include "io/volume.h"
#include "kernels/cpu_fused/context.h"
#include "models/age_study.h"
#include "models/checkpoint.h"
#include "models/critic.h"
#include "models/critic_spectral_norm.h"
#include "models/generator.h"
#include "models/inference.h"
#include "models/trainer.h"
#include "models/wgan_step.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

nlohmann::json tiny_config(const std::string& manifest, const std::string& out) {
  return merge_train_config("", {"data.manifest=\"" + manifest + "\"", "output.dir=\"" + out + "\"", "model.blocks=2", "model.units=2",
                                 "model.growth=4", "sampler.patch=8", "sampler.mode=balanced", "sampler.patches_per_epoch=16",
                                 "train.batch=4", "train.epochs=3", "train.val_patches=8", "train.log_every=1", "train.device=cpu",
                                 "train.lr_halve_every=1"});
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A small WGAN trained 24 steps straight, and the same stopped after 13 (pretraining, then 5
// adversarial steps) and resumed, under the settings `extra` beside the shared ones.
struct WganRuns {
  nlohmann::json config;
  TrainSummary straight;
  std::string straight_checkpoint, split_checkpoint;
};

WganRuns wgan_straight_and_resumed(TempDir& dir, const std::vector<std::string>& extra) {
  const std::string manifest = make_phantom_dataset(dir, 64, 56, 48);
  auto config = [&](const std::string& out) {
    std::vector<std::string> settings{"data.manifest=\"" + manifest + "\"", "output.dir=\"" + out + "\"", "model.blocks=2", "model.units=2",
                                      "model.growth=4", "sampler.patch=16", "sampler.patches_per_epoch=16", "train.batch=2",
                                      "train.epochs=3", "train.val_patches=4", "train.log_every=1", "train.device=cpu",
                                      "wgan.enabled=true", "wgan.pretrain_epochs=1", "wgan.n_critic=3", "wgan.critic_widths=[2,3,4,4]",
                                      "wgan.critic_hidden=6", "wgan.critic_lr_halve_every=1"};
    settings.insert(settings.end(), extra.begin(), extra.end());
    return merge_train_config("", settings);
  };
  const nlohmann::json a = config(dir.path("straight")), b = config(dir.path("split"));
  TrainOptions quiet;
  quiet.progress = false;
  TrainOptions first = quiet;
  first.stop_after_steps = 13;  // 8 steps per epoch: pretraining, then 5 adversarial steps
  WganRuns runs{a, train_generator(parse_train_config(a), a, quiet), dir.path("straight/checkpoint.safetensors"),
                dir.path("split/checkpoint.safetensors")};
  train_generator(parse_train_config(b), b, first);
  TrainOptions second = quiet;
  second.resume = runs.split_checkpoint;
  train_generator(parse_train_config(b), b, second);
  return runs;
}

// The critic of the straight run, checked to the bit against the resumed run's.
CriticState same_critics(const WganRuns& runs, const CriticLayout& layout) {
  const std::optional<CriticState> x = load_critic(runs.straight_checkpoint, layout), y = load_critic(runs.split_checkpoint, layout);
  REQUIRE(x.has_value());
  REQUIRE(y.has_value());
  CHECK(x->params == y->params);
  CHECK(x->adam_m == y->adam_m);
  CHECK(x->adam_v == y->adam_v);
  CHECK(x->spectral == y->spectral);
  return *x;
}

TEST_SUITE("trainer") {
  TEST_CASE("configuration: defaults, files, overrides and typos") {
    const nlohmann::json d = merge_train_config("", {"train.epochs=3", "sampler.mode=balanced", "data.manifest=m.json"});
    const TrainConfig c = parse_train_config(d);
    CHECK(c.epochs == 3);
    CHECK(c.batch == 64);
    CHECK(c.sampler.mode == SamplingMode::Balanced);
    CHECK(c.manifest == "m.json");
    CHECK(c.model.blocks == 4);
    CHECK(c.residence == Residence::Auto);
    CHECK(parse_train_config(merge_train_config("", {"data.manifest=m", "data.residence=host"})).residence == Residence::Host);
    CHECK(parse_train_config(merge_train_config("", {"data.manifest=m", "data.residence=device"})).residence == Residence::Device);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {"data.manifest=m", "data.residence=hots"})),
                         doctest::Contains("data.residence: \"hots\"; must be \"device\", \"host\" or \"auto\""), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"train.epoch=3"}), doctest::Contains("unknown setting 'train.epoch'"), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"epochs=3"}), doctest::Contains("expected section.key=value"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {"data.manifest=m", "train.loss=l3"})),
                         doctest::Contains("train.loss: expected l1 or l2"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {})), doctest::Contains("data.manifest: not set"), Error);
  }

  TEST_CASE("configuration: a value of the wrong kind is refused, naming the key, what was expected and what was found") {
    TempDir dir("mdcsrn_config_kinds");
    write_text_atomically(dir.path("typed.json"), R"({"train": {"epochs": "x"}})");
    const std::string from_file = "train.epochs: expected an integer, got \"x\" (" + dir.path("typed.json") + ")";
    CHECK_THROWS_WITH_AS(merge_train_config(dir.path("typed.json"), {}), doctest::Contains(from_file.c_str()), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"train.epochs=x"}), doctest::Contains("train.epochs: expected an integer, got \"x\""), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"train.epochs=2.5"}), doctest::Contains("train.epochs: expected an integer, got 2.5"), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"train.lr=fast"}), doctest::Contains("train.lr: expected a number, got \"fast\""), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"train.deterministic=1"}), doctest::Contains("train.deterministic: expected true or false, got 1"),
                         Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"data.manifest=3"}), doctest::Contains("data.manifest: expected a string, got 3"), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"wgan.critic_widths=[8,\"a\"]"}),
                         doctest::Contains("wgan.critic_widths[1]: expected an integer, got \"a\""), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {"wgan.critic_widths=8"}), doctest::Contains("wgan.critic_widths: expected a list, got 8"), Error);
    write_text_atomically(dir.path("flat.json"), R"({"train": 3})");
    CHECK_THROWS_WITH_AS(merge_train_config(dir.path("flat.json"), {}), doctest::Contains("train: expected a section {...}, got 3"), Error);
    // Whole floats for integers and integers for floats are the same numbers.
    const TrainConfig c = parse_train_config(merge_train_config("", {"data.manifest=m", "train.epochs=3.0", "train.lr=1"}));
    CHECK(c.epochs == 3);
    CHECK(c.adam.lr == 1.f);
  }

  TEST_CASE("every shipped configuration parses") {
    int files = 0, age_files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(MDCSRN_SOURCE_DIR) + "/configs")) {
      CAPTURE(entry.path().string());
      if (entry.path().filename().string().starts_with("age_")) {  // mdcsrn age's settings
        const AgeStudyConfig c = parse_age_config(merge_age_config(entry.path().string(), {}));
        CHECK(AgeRegressorLayout(c.training.model).table().parameter_count() > 0);
        ++age_files;
        continue;
      }
      const TrainConfig c = parse_train_config(merge_train_config(entry.path().string(), {}));
      CHECK(!c.manifest.empty());
      ++files;
    }
    CHECK(files >= 3);
    CHECK(age_files >= 2);
    CHECK_THROWS_WITH_AS(parse_age_config(merge_age_config("", {"train.epochs=\"x\""})), doctest::Contains("train.epochs: expected an integer, got \"x\""), Error);
    CHECK_THROWS_WITH_AS(merge_age_config("", {"grid.spacnig=3"}), doctest::Contains("unknown setting 'grid.spacnig'"), Error);
    const TrainConfig balanced = parse_train_config(merge_train_config(std::string(MDCSRN_SOURCE_DIR) + "/configs/paper_balanced.json", {}));
    CHECK(balanced.sampler.mode == SamplingMode::Balanced);
    CHECK(GeneratorLayout(balanced.model).table().parameter_count() == 411648);
    CHECK(GeneratorLayout(parse_train_config(merge_train_config(std::string(MDCSRN_SOURCE_DIR) + "/configs/authors_code.json", {})).model)
              .table().parameter_count() == 581440);
  }

  TEST_CASE("a short training on a synthetic volume lowers the loss and beats the LR input on the held-out region") {
    // 2,000 steps of a small generator (~95 s on 2 cores), then whole-volume inference and the
    // evaluation over the test region, which training never sees. Measured with train.seed 0-3:
    // SR beat LR by 0.70, 0.51, 0.68 and 0.76 dB over the brain. With 1,000 steps the margin
    // varied from 0.04 to 0.59 dB with the seed and with changes in fp32 rounding.
    TempDir dir("end_to_end");
    const std::string manifest = make_phantom_dataset(dir, 64, 56, 48, PhantomTexture::Spheres);
    const nlohmann::json j = merge_train_config("", {"data.manifest=\"" + manifest + "\"", "output.dir=\"" + dir.path("run") + "\"",
                                                     "model.blocks=2", "model.units=2", "model.growth=8", "sampler.patch=16",
                                                     "sampler.patches_per_epoch=8000", "train.batch=8", "train.epochs=2",
                                                     "train.lr_halve_every=1", "train.val_patches=32", "train.log_every=10",
                                                     "train.device=cpu"});
    const TrainConfig config = parse_train_config(j);
    TrainOptions quiet;
    quiet.progress = false;
    const TrainSummary s = train_generator(config, j, quiet);
    REQUIRE(s.losses.size() == 200);
    // The batch loss every 10th step: the mean of steps 10 and 20 against that of the last 10 logged.
    const double first = (s.losses[0] + s.losses[1]) / 2;
    const double last = std::accumulate(s.losses.end() - 10, s.losses.end(), 0.0) / 10;
    MESSAGE("L1 loss at steps 10 and 20: " << first << ", at steps 1910-2000: " << last);
    CHECK(last < 0.25 * first);

    const Manifest m = Manifest::load(manifest);
    const Volume lr = read_volume(m.resolve(m.subjects.at(0).lr));
    InferenceOptions o;
    o.patch = 32;
    o.batch = 8;
    const GeneratorState state = load_checkpoint(s.checkpoint, GeneratorLayout(config.model));
    write_volume(lr.like(super_resolve(config.model, state, lr.data, lr.dims, o, nullptr)), dir.path("sr.nii.gz"));
    const std::vector<EvaluationRow> rows = evaluate_split(m, "test", {{"SR", dir.path("sr.nii.gz")}}, SsimWindow::Uniform7);
    const auto brain_psnr = [&](const std::string& method) {
      for (const EvaluationRow& r : rows)
        if (r.method == method && r.region == "brain") return r.metrics.psnr;
      FAIL("no brain row for " << method);
      return 0.0;
    };
    MESSAGE("test region, brain: LR " << brain_psnr("LR") << " dB, SR " << brain_psnr("SR") << " dB");
    CHECK(brain_psnr("SR") > brain_psnr("LR") + 0.2);
  }

  TEST_CASE("N + M steps in one run equal N steps, a resume, then M steps, bit for bit") {
    TempDir dir("resume");
    const std::string manifest = make_phantom_dataset(dir);
    const nlohmann::json a = tiny_config(manifest, dir.path("straight")), b = tiny_config(manifest, dir.path("split"));
    TrainOptions quiet;
    quiet.progress = false;
    TrainOptions first = quiet;
    first.stop_after_steps = 10;  // mid-epoch (4 steps per epoch)
    train_generator(parse_train_config(a), a, quiet);
    train_generator(parse_train_config(b), b, first);
    TrainOptions second = quiet;
    second.resume = dir.path("split/checkpoint.safetensors");
    const TrainSummary resumed = train_generator(parse_train_config(b), b, second);
    CHECK(resumed.steps == 12);
    const GeneratorLayout layout(parse_train_config(a).model);
    const GeneratorState x = load_checkpoint(dir.path("straight/checkpoint.safetensors"), layout);
    const GeneratorState y = load_checkpoint(dir.path("split/checkpoint.safetensors"), layout);
    CHECK(x.step == 12);
    CHECK(x.params == y.params);
    CHECK(x.adam_m == y.adam_m);
    CHECK(x.adam_v == y.adam_v);
    CHECK(x.running == y.running);
    // And the training did move the weights.
    CHECK(x.params != initial_generator_parameters(layout, 0));
  }

  // Its own suite, which ctest runs with --requires=cpu_fused (skipped where the kernels cannot run).
  TEST_CASE("bf16 on the fused CPU kernels: N + M steps equal N steps, a resume, then M steps, bit for bit, and stay near fp32" *
            doctest::test_suite("trainer_cpu_fused")) {
    const std::string why = cpu_fused_unsupported();
    REQUIRE_MESSAGE(why.empty(), "the fused CPU kernels cannot run on " << why);
    TempDir dir("resume_bf16");
    const std::string manifest = make_phantom_dataset(dir);
    const auto config = [&](const std::string& out, const std::string& precision) {
      nlohmann::json c = tiny_config(manifest, dir.path(out));
      c["model"]["growth"] = 16;  // the fused units' width
      c["train"]["precision"] = precision;
      return c;
    };
    const nlohmann::json a = config("straight", "bf16"), b = config("split", "bf16"), f = config("fp32", "fp32");
    TrainOptions quiet;
    quiet.progress = false;
    TrainOptions first = quiet;
    first.stop_after_steps = 10;
    train_generator(parse_train_config(a), a, quiet);
    train_generator(parse_train_config(f), f, quiet);
    train_generator(parse_train_config(b), b, first);
    TrainOptions second = quiet;
    second.resume = dir.path("split/checkpoint.safetensors");
    CHECK(train_generator(parse_train_config(b), b, second).steps == 12);
    const GeneratorLayout layout(parse_train_config(a).model);
    const GeneratorState x = load_checkpoint(dir.path("straight/checkpoint.safetensors"), layout);
    const GeneratorState y = load_checkpoint(dir.path("split/checkpoint.safetensors"), layout);
    const GeneratorState reference = load_checkpoint(dir.path("fp32/checkpoint.safetensors"), layout);
    CHECK(x.params == y.params);
    CHECK(x.adam_m == y.adam_m);
    CHECK(x.adam_v == y.adam_v);
    CHECK(x.running == y.running);
    // The same 12 steps in fp32: Adam moves each weight by about lr a step whatever its gradient's
    // size, so bf16's sign flips of small gradients show; measured 1.6e-3.
    const double drift = relative_error(convert<double>(x.params), convert<double>(reference.params));
    MESSAGE("bf16 against fp32 after 12 steps: parameters " << drift);
    CHECK(drift < 2e-2);
    CHECK(x.params != initial_generator_parameters(layout, 0));

    // infer --precision bf16 on the CPU: the fused eval forward, tiled and stitched, near fp32.
    const std::array<int64_t, 3> dims{20, 18, 17};
    std::vector<float> volume(size_t(dims[0] * dims[1] * dims[2]));
    for (size_t i = 0; i < volume.size(); ++i) volume[i] = 0.5f + 0.4f * std::sin(0.37f * float(i % 20)) * std::cos(0.23f * float(i / 360));
    InferenceOptions o;
    o.patch = 8;
    o.batch = 4;
    o.margin = 1;
    std::string bf16_path, fp32_path;
    o.precision = "bf16";
    const std::vector<float> sr_bf16 = super_resolve(parse_train_config(a).model, x, volume, dims, o, nullptr, &bf16_path);
    o.precision = "fp32";
    const std::vector<float> sr_fp32 = super_resolve(parse_train_config(a).model, x, volume, dims, o, nullptr, &fp32_path);
    CHECK(bf16_path.find("fused CPU kernels") != std::string::npos);
    CHECK(fp32_path == "fp32 (CPU)");
    const double sr_error = relative_error(convert<double>(sr_bf16), convert<double>(sr_fp32));
    MESSAGE("infer bf16 against fp32: " << sr_error);
    CHECK(sr_error < 2e-2);
  }

  TEST_CASE("a non-finite loss stops the run and keeps the last good checkpoint") {
    TempDir dir("nan");
    const std::string manifest = make_phantom_dataset(dir);
    nlohmann::json c = tiny_config(manifest, dir.path("run"));
    c["train"]["epochs"] = 1;
    TrainOptions quiet;
    quiet.progress = false;
    train_generator(parse_train_config(c), c, quiet);
    const std::string checkpoint = dir.path("run/checkpoint.safetensors");
    const std::string good = file_bytes(checkpoint);
    c["train"]["epochs"] = 3;
    c["train"]["lr"] = 1e30;
    TrainOptions resume = quiet;
    resume.resume = checkpoint;
    const std::string expected = "the last good checkpoint is " + checkpoint;
    CHECK_THROWS_WITH_AS(train_generator(parse_train_config(c), c, resume), doctest::Contains(expected.c_str()), Error);
    CHECK(file_bytes(checkpoint) == good);
  }

  TEST_CASE("--dump-step writes a first step that an independent double-precision pass reproduces") {
    TempDir dir("dump");
    const std::string manifest = make_phantom_dataset(dir);
    nlohmann::json c = tiny_config(manifest, dir.path("run"));
    c["train"]["epochs"] = 1;
    TrainOptions o;
    o.progress = false;
    o.dump_step = dir.path("step.safetensors");
    o.stop_after_steps = 1;
    train_generator(parse_train_config(c), c, o);
    const SafeTensors st = SafeTensors::load(o.dump_step);
    const GeneratorLayout layout(parse_train_config(c).model);
    std::vector<double> params(static_cast<size_t>(layout.table().padded_size()));
    for (const ParamEntry& e : layout.table().entries()) {
      const std::vector<float> v = st.f32("param." + e.name, e.shape);
      std::copy(v.begin(), v.end(), params.begin() + e.offset);
    }
    const Shape5 shape{4, 1, 8, 8, 8};
    const std::vector<int64_t> dims{4, 1, 8, 8, 8};
    std::vector<double> input = convert<double>(st.f32("input", dims)), target = convert<double>(st.f32("target", dims));
    std::vector<double> output(input.size()), doutput(input.size()), grads(params.size());
    Generator<CpuBackend<double>> g(layout, {}, shape);
    const Tensor<double> x(input.data(), shape), y(output.data(), shape), t(target.data(), shape), dy(doutput.data(), shape);
    g.forward(params.data(), x, y, NormMode::Train);
    CHECK(relative_error(output, convert<double>(st.f32("output", dims))) < 1e-5);
    CHECK(std::fabs(cpu::loss_forward<double>(LossKind::L1, y, t) - st.f32("loss", {1})[0]) < 1e-6);
    cpu::loss_backward<double>(LossKind::L1, y, t, 1.0, dy, GradMode::Overwrite);
    g.backward(params.data(), grads.data(), x, dy, NormMode::Train);
    for (const ParamEntry& e : layout.table().entries()) {
      CAPTURE(e.name);
      const std::vector<double> dumped = convert<double>(st.f32("grad." + e.name, e.shape));
      CHECK(relative_error(dumped, std::vector<double>(grads.begin() + e.offset, grads.begin() + e.offset + e.numel)) < 1e-4);
    }
  }

  TEST_CASE("WGAN: the schedule of critic and generator updates") {
    const WganSchedule s{10, 5};
    CHECK(s.generator_updates(3));  // pretraining: every step, Adam step = step + 1
    CHECK(s.generator_update(3) == 4);
    CHECK(!s.adversarial(9));
    CHECK(s.adversarial(10));
    CHECK(s.critic_update(10) == 1);
    CHECK(s.critic_update(17) == 8);
    std::vector<int64_t> updates;
    for (int64_t step = 10; step < 22; ++step)
      if (s.generator_updates(step)) updates.push_back(s.generator_update(step));
    CHECK(updates == std::vector<int64_t>{11, 12, 13});  // at steps 10, 15 and 20, after 10 pretraining updates
  }

  TEST_CASE("WGAN: N + M steps equal N steps, a resume, then M steps, for both networks and optimisers, bit for bit") {
    TempDir dir("wgan_resume");
    const WganRuns runs = wgan_straight_and_resumed(dir, {});
    const nlohmann::json& a = runs.config;
    CHECK(runs.straight.steps == 24);
    CHECK(runs.straight.critic_losses.size() == 16);
    // Clipped at 0.01, the critic's estimate falls to the rounding of its scores once the clipped
    // weights replace its initial ones (measured: -0.081 at the first adversarial log point, then
    // 0 at every later one): its last epoch is reported inert, in the summary and the log.
    CHECK(runs.straight.inert_epochs == std::vector<int64_t>{3});
    std::ifstream log(std::filesystem::path(runs.straight_checkpoint).parent_path() / "log.jsonl");
    int inert_records = 0;
    for (std::string line; std::getline(log, line);) inert_records += nlohmann::json::parse(line).value("critic_inert", false);
    CHECK(inert_records == 1);
    const TrainConfig c = parse_train_config(a);
    const GeneratorLayout layout(c.model);
    const CriticLayout critic_layout(c.wgan.critic);
    const GeneratorState x = load_checkpoint(runs.straight_checkpoint, layout);
    const GeneratorState y = load_checkpoint(runs.split_checkpoint, layout);
    CHECK(x.params == y.params);
    CHECK(x.adam_m == y.adam_m);
    CHECK(x.adam_v == y.adam_v);
    CHECK(x.running == y.running);
    const CriticState cx = same_critics(runs, critic_layout);
    CHECK(cx.params != initial_critic_parameters(critic_layout, 0));
    CHECK(cx.spectral.empty());  // clipping keeps no spectral vectors

    // Clipping bounds every critic parameter, and it did act (LayerNorm weights start at 1).
    const ParamTable& t = critic_layout.table();
    int64_t at_limit = 0;
    for (const ParamEntry& e : t.entries())
      for (int64_t i = 0; i < e.numel; ++i) {
        const float v = cx.params[size_t(e.offset + i)];
        REQUIRE_MESSAGE(std::fabs(v) <= 0.01f, e.name << "[" << i << "] = " << v);
        at_limit += std::fabs(v) == 0.01f;
      }
    CHECK(at_limit >= t.entry(t.find("layers.0.norm.weight")).numel);
    // A critic of another shape is refused, naming the file.
    CHECK_THROWS_WITH_AS(load_critic(runs.split_checkpoint, CriticLayout(CriticConfig{16, {2, 3, 4, 5}, 6, 0.2f})),
                         doctest::Contains("split/checkpoint.safetensors"), Error);
  }

  TEST_CASE("WGAN with spectral normalisation: resumes bit for bit with its vectors, and clips nothing") {
    TempDir dir("wgan_spectral_resume");
    const WganRuns runs = wgan_straight_and_resumed(dir, {"wgan.lipschitz=\"spectral\"", "wgan.critic_beta1=0", "wgan.critic_beta2=0.9"});
    const TrainConfig c = parse_train_config(runs.config);
    REQUIRE(c.wgan.constraint.kind == Lipschitz::Spectral);
    CHECK(runs.straight.inert_epochs.empty());
    const GeneratorLayout layout(c.model);
    const CriticLayout critic_layout(c.wgan.critic);
    CHECK(load_checkpoint(runs.straight_checkpoint, layout).params == load_checkpoint(runs.split_checkpoint, layout).params);
    const CriticState cx = same_critics(runs, critic_layout);
    REQUIRE(int64_t(cx.spectral.size()) == SpectralVectorLayout(critic_layout).size);
    // The vectors moved with the weights from where the critic's initialisation put them.
    CHECK(cx.spectral != initial_spectral_vectors(critic_layout, initial_critic_parameters(critic_layout, 0), 0));
    float largest = 0;
    for (const float v : cx.params) largest = std::max(largest, std::fabs(v));
    CHECK(largest > 0.01f);  // no clipping at wgan.clip's 0.01
  }

  TEST_CASE("WGAN with the gradient penalty: resumes bit for bit, logs the penalty, and clips nothing") {
    TempDir dir("wgan_penalty_resume");
    const WganRuns runs = wgan_straight_and_resumed(dir, {"wgan.lipschitz=\"gp\"", "wgan.critic_beta1=0", "wgan.critic_beta2=0.9"});
    const TrainConfig c = parse_train_config(runs.config);
    REQUIRE(c.wgan.constraint.kind == Lipschitz::GradientPenalty);
    const GeneratorLayout layout(c.model);
    const CriticLayout critic_layout(c.wgan.critic);
    CHECK(load_checkpoint(runs.straight_checkpoint, layout).params == load_checkpoint(runs.split_checkpoint, layout).params);
    const CriticState cx = same_critics(runs, critic_layout);
    CHECK(cx.spectral.empty());
    float largest = 0;
    for (const float v : cx.params) largest = std::max(largest, std::fabs(v));
    CHECK(largest > 0.01f);
    std::ifstream log(std::filesystem::path(runs.straight_checkpoint).parent_path() / "log.jsonl");
    int penalties = 0;
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (!record.contains("gradient_penalty")) continue;
      ++penalties;
      CHECK(record["gradient_penalty"].get<double>() > 0);
      CHECK(std::isfinite(record["gradient_penalty"].get<double>()));
    }
    CHECK(penalties == 16);  // one a logged adversarial step
  }

  TEST_CASE("WGAN: --dump-step writes the critic's step, which an independent double-precision pass reproduces") {
    for (const std::string lipschitz : {"clip", "spectral", "gp"}) {
      CAPTURE(lipschitz);
      TempDir dir("wgan_dump");
      const std::string manifest = make_phantom_dataset(dir, 64, 56, 48);
      const nlohmann::json c = merge_train_config("", {"data.manifest=\"" + manifest + "\"", "output.dir=\"" + dir.path("run") + "\"",
                                                       "model.blocks=2", "model.units=2", "model.growth=4", "sampler.patch=16",
                                                       "train.batch=3", "train.val_patches=3", "train.device=cpu", "wgan.enabled=true",
                                                       "wgan.critic_widths=[2,3,4,4]", "wgan.critic_hidden=6",
                                                       "wgan.lipschitz=\"" + lipschitz + "\""});
      TrainOptions o;
      o.progress = false;
      o.dump_step = dir.path("step.safetensors");
      o.stop_after_steps = 1;
      const TrainConfig config = parse_train_config(c);
      train_generator(config, c, o);
      const SafeTensors st = SafeTensors::load(o.dump_step);
      const CriticLayout layout(config.wgan.critic);
      std::vector<double> params(static_cast<size_t>(layout.table().padded_size()));
      for (const ParamEntry& e : layout.table().entries()) {
        const std::vector<float> v = st.f32("critic.param." + e.name, e.shape);
        std::copy(v.begin(), v.end(), params.begin() + e.offset);
      }
      CHECK(!st.has("grad.conv0.weight"));  // the generator's gradients come after the critic's update
      // Under spectral normalisation, the dumped vectors normalise the weights in double here.
      CriticSpectralNorm<CpuBackend<double>> spectral(layout, {}, 1);
      Critic<CpuBackend<double>> critic(layout, {}, 3);
      REQUIRE(st.has("critic.param.conv0.weight_u") == (lipschitz == "spectral"));
      if (lipschitz == "spectral") {
        const SpectralVectorLayout at(layout);
        const std::vector<CriticWeightMatrix> matrices = layout.weight_matrices();
        for (size_t k = 0; k < matrices.size(); ++k) {
          const ParamEntry& w = layout.table().entry(matrices[k].weight);
          const std::vector<float> u = st.f32("critic.param." + w.name + "_u", {matrices[k].rows});
          const std::vector<float> v = st.f32("critic.param." + w.name + "_v", spectral_v_shape(w));
          std::copy(u.begin(), u.end(), spectral.vectors().data() + at.u[k]);
          std::copy(v.begin(), v.end(), spectral.vectors().data() + at.v[k]);
        }
        spectral.normalise(params.data());
        critic.read_weights_from(spectral.weights());
      }
      const Shape5 shape{3, 1, 16, 16, 16}, score_shape{3, 1, 1, 1, 1};
      const std::vector<int64_t> dims{3, 1, 16, 16, 16};
      std::vector<double> sr = convert<double>(st.f32("output", dims)), hr = convert<double>(st.f32("target", dims));
      std::vector<double> fake(3), real(3), dfake(3, 1.0 / 3), dreal(3, -1.0 / 3), grads(params.size());
      critic.forward(params.data(), Tensor<const double>(sr.data(), shape), Tensor<double>(fake.data(), score_shape));
      critic.backward(params.data(), grads.data(), GradMode::Overwrite, Tensor<const double>(sr.data(), shape),
                      Tensor<const double>(dfake.data(), score_shape));
      critic.forward(params.data(), Tensor<const double>(hr.data(), shape), Tensor<double>(real.data(), score_shape));
      critic.backward(params.data(), grads.data(), GradMode::Accumulate, Tensor<const double>(hr.data(), shape),
                      Tensor<const double>(dreal.data(), score_shape));
      if (lipschitz == "spectral") spectral.backward(grads.data());
      REQUIRE(st.has("critic.interpolates") == (lipschitz == "gp"));
      if (lipschitz == "gp") {
        // The interpolates from the run's seed (0) and the batch's first sample (0), and the
        // penalty's gradients through a second-order critic in double.
        std::vector<double> mixed(sr.size()), g(sr.size()), g_grad(sr.size()), ones(3, 1.0), scores(3);
        cpu::penalty_interpolates<double>(0, 0, Tensor<const double>(sr.data(), shape), Tensor<const double>(hr.data(), shape),
                                          Tensor<double>(mixed.data(), shape));
        CHECK(relative_error(convert<double>(st.f32("critic.interpolates", dims)), mixed) < 1e-6);
        Critic<CpuBackend<double>> second(layout, {}, 3, CriticDerivatives::Second);
        const Tensor<const double> at(mixed.data(), shape), ones_t(ones.data(), score_shape);
        Tensor<double> g_t(g.data(), shape);
        second.forward(params.data(), at, Tensor<double>(scores.data(), score_shape));
        second.backward(params.data(), nullptr, std::nullopt, at, ones_t, &g_t);
        double penalty = 0;
        cpu::gradient_penalty<double>(g_t, 10.0, 1.0, &penalty, Tensor<double>(g_grad.data(), shape));
        second.backward_of_input_gradient(params.data(), grads.data(), at, ones_t, Tensor<const double>(g_grad.data(), shape));
        CHECK(relative_error(convert<double>(st.f32("critic.gradient_penalty", {1})), {penalty}) < 1e-5);
      }
      CHECK(relative_error(convert<double>(st.f32("fake_scores", {3})), fake) < 1e-5);
      CHECK(relative_error(convert<double>(st.f32("real_scores", {3})), real) < 1e-5);
      for (const ParamEntry& e : layout.table().entries()) {
        CAPTURE(e.name);
        const std::vector<double> dumped = convert<double>(st.f32("critic.grad." + e.name, e.shape));
        const std::vector<double> expected(grads.begin() + e.offset, grads.begin() + e.offset + e.numel);
        // fc2.bias: d(mean D(SR) - mean D(HR))/db = 1 - 1, zero in both.
        if (e.name == "fc2.bias") CHECK(std::fabs(dumped[0]) < 1e-6);
        else CHECK(relative_error(dumped, expected) < 1e-4);
      }
    }
  }

  TEST_CASE("WGAN: configuration errors") {
    const std::string m = "data.manifest=m.json";
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {m, "wgan.enabled=true", "sampler.patch=24"})),
                         doctest::Contains("multiple of 16"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {m, "wgan.critic_widths=[1,2,3]"})),
                         doctest::Contains("wgan.critic_widths: [1,2,3]; must list 4 channel counts"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {m, "wgan.enabled=true", "wgan.n_critic=0"})),
                         doctest::Contains("wgan.n_critic"), Error);
    CHECK_THROWS_WITH_AS(merge_train_config("", {m, "wgan.ncritic=3"}), doctest::Contains("unknown setting 'wgan.ncritic'"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {m, "wgan.lipschitz=\"penalty\""})),
                         doctest::Contains("wgan.lipschitz: expected clip, spectral or gp, got 'penalty'"), Error);
    CHECK_THROWS_WITH_AS(parse_train_config(merge_train_config("", {m, "wgan.enabled=true", "wgan.gp_weight=0"})),
                         doctest::Contains("wgan.gp_weight"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
