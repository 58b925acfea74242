// mdcsrn demo: the whole method on Colin27 in one command. Prepare the data (HR, k-space LR,
// masks, hemisphere split), train the generator with uniform and with balanced sampling, super-
// resolve the test hemisphere with each, evaluate both against HR over the brain and the
// cerebellum, and write a report (Markdown tables, figures, the runs' logs and checkpoints).
// With --wgan, a third run trains mDCSRN-WGAN with balanced sampling.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/demo_age.h"
#include "cli/demo_figures.h"
#include "engine/cpu_isa.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/evaluation.h"
#include "io/manifest.h"
#include "kernels/cpu_fused/context.h"
#include "models/inference.h"
#include "models/trainer.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp = R"(usage: mdcsrn demo [--out DIR] [--device auto|cpu|cuda] [--wgan] [--age] [options]

The end-to-end demo on Colin27 (from the Debian package mricron-data):
  1. prepare: HR, LR by k-space truncation (scale 4), brain and cerebellum masks, and the split
     (train: left hemisphere, val: its lateral quarter, test: right hemisphere);
  2. train the generator twice: uniform and balanced (50% cerebellum) patch sampling (with
     --wgan, a third time as mDCSRN-WGAN with balanced sampling);
  3. super-resolve the test hemisphere with each model;
  4. evaluate LR and the SR volumes against HR over the brain and over the cerebellum;
  5. write DIR/report.md with the tables and PNG figures (three views, cerebellum close-up,
     training curves).

On a GPU the two runs use the paper's configurations (configs/paper_uniform.json and
configs/paper_balanced.json: b4u4, batch 64 of 32^3, 50 epochs; --wgan adds
configs/paper_wgan_balanced.json). Without one they use configs/demo_cpu.json, a small model
and schedule that takes about 7 minutes on 2 cores (--wgan adds configs/demo_cpu_wgan.json: the
same generator, 5 L1 epochs then one WGAN epoch with a narrow critic, about 4 minutes more);
its numbers show the pipeline working, not the paper's results. On a CPU with AVX512-BF16 the
generators train and infer in bf16 on the fused CPU kernels with growth 16 instead of 8
(model.growth=16, train.precision="bf16"; --set overrides them): a larger model in about the
same time, and numbers that differ from those of a CPU without it.

--age adds a brain-age section (the paper's Table III layout) on a synthetic cohort made from
Colin27 (15 subjects aged 20-80 with age-dependent atrophy, widening sulci and ventricles and
falling contrast; each with LR by the same k-space truncation and SR by every trained model),
then mdcsrn age with configs/age_demo.json (a small DenseNet on a 6 mm grid, 3 folds): about 2
minutes more on 2 cores. The cohort shows the pipeline working; it is not a brain-age result.

options:
  --out DIR          output folder (default runs/demo); DIR/data is reused when it exists
  --device D         auto, cpu or cuda (default auto: cuda when a GPU is visible)
  --configs DIR      where the configurations are (default configs)
  --templates DIR    where Colin27 is (default /usr/share/mricron/templates)
  --wgan             also train and evaluate mDCSRN-WGAN (balanced sampling)
  --age              add the brain-age section on a synthetic Colin27 cohort
  --set KEY=VALUE    override a setting of every training run, e.g. --set train.epochs=2
                     (repeatable)
  --overwrite        replace an earlier demo's results in DIR (report, runs, volumes, figures,
                     age; DIR/data is kept); without it, a DIR holding them is refused
  --quiet            no progress bars
)";

// What a finished demo leaves in its folder beside data/ (the run folders are the runs' keys).
const char* const kDemoResults[] = {"report.md", "metrics.csv", "figures", "age", "uniform", "balanced", "balanced_wgan",
                                    "sr_uniform.nii.gz", "sr_balanced.nii.gz", "sr_balanced_wgan.nii.gz"};

struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

struct Run {
  std::string name, key, mode, config_file, dir, sr_path;  // key names its folder and SR volume
  TrainSummary summary;
  double train_seconds = 0, infer_seconds = 0;
};

// The test region's voxels of the brain, as a box (with `margin` voxels of context, clamped).
VoxelBox test_box(const Manifest& manifest, const Volume& brain, int64_t margin) {
  const auto test = manifest.split("test");
  if (test.size() != 1) fail(manifest.folder + ": the demo expects one subject with a spatial test region");
  const Region& r = test[0].second;
  VoxelBox whole{{0, 0, 0}, brain.dims};
  if (!r.whole()) {
    whole.lo[size_t(r.axis)] = r.begin;
    whole.hi[size_t(r.axis)] = r.end;
  }
  VoxelBox box = bounding_box(brain, whole, manifest.resolve(manifest.subjects[0].brain_mask) + " (test region)");
  for (size_t a = 0; a < 3; ++a) {
    box.lo[a] = std::max<int64_t>(0, box.lo[a] - margin);
    box.hi[a] = std::min<int64_t>(brain.dims[a], box.hi[a] + margin);
  }
  return box;
}

// Super-resolves the voxels of `box` (the generator sees the box, zero-padded at its faces) and
// returns the LR volume with that box replaced by the result.
std::vector<float> super_resolve_box(const TrainConfig& config, const std::string& checkpoint, const Volume& lr, const VoxelBox& box,
                                     CudaContext* ctx) {
  const std::array<int64_t, 3> dims{box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]};
  std::vector<float> part(size_t(dims[0] * dims[1] * dims[2]));
  for (int64_t k = 0; k < dims[2]; ++k)
    for (int64_t j = 0; j < dims[1]; ++j)
      for (int64_t i = 0; i < dims[0]; ++i) part[size_t((k * dims[1] + j) * dims[0] + i)] = lr.at(box.lo[0] + i, box.lo[1] + j, box.lo[2] + k);
  InferenceOptions o;
  o.patch = 32;
  o.batch = ctx ? 64 : 8;
  if (!ctx) o.precision = config.precision;  // a model trained on the fused bf16 CPU kernels infers on them too
  const GeneratorState state = load_checkpoint(checkpoint, GeneratorLayout(config.model));
  const std::vector<float> sr = super_resolve(config.model, state, part, dims, o, ctx);
  std::vector<float> out = lr.data;
  for (int64_t k = 0; k < dims[2]; ++k)
    for (int64_t j = 0; j < dims[1]; ++j)
      for (int64_t i = 0; i < dims[0]; ++i)
        out[size_t(lr.index(box.lo[0] + i, box.lo[1] + j, box.lo[2] + k))] = sr[size_t((k * dims[1] + j) * dims[0] + i)];
  return out;
}

std::string format_seconds(double s) {
  char text[32];
  if (s < 120) std::snprintf(text, sizeof text, "%.0f s", s);
  else std::snprintf(text, sizeof text, "%.1f min", s / 60);
  return text;
}

}  // namespace

int run_demo(int argc, char** argv) {
  std::vector<char*> rest;
  std::vector<std::string> overrides = take_repeated(argc, argv, "--set", "section.key=value", rest);
  const Args args(int(rest.size()), rest.data(), 2, {"out", "device", "configs", "templates"}, {"quiet", "wgan", "age", "overwrite"},
                  "mdcsrn demo");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const Timer total;
  const fs::path out = args.get("out", "runs/demo"), configs = args.get("configs", "configs");
  const std::string device = args.get("device", "auto");
  if (device != "auto" && device != "cpu" && device != "cuda") fail("option --device: expected auto, cpu or cuda, got '" + device + "'");
  bool gpu = false;
#ifdef MDCSRN_HAVE_CUDA
  gpu = device == "cuda" || (device == "auto" && cuda_device_count() > 0);
#else
  if (device == "cuda") fail("option --device cuda: this build has no CUDA backend");
#endif
  // On a CPU with AVX512-BF16 the fused bf16 CPU kernels train a growth-16 generator in about the
  // time the configuration's growth-8 model takes in fp32: the demo spends the saving on the model.
  const bool fused_cpu = !gpu && cpu_isa() >= CpuIsa::Avx512Bf16 && cpu_fused_unsupported().empty();
  const std::vector<std::string> path_settings =
      fused_cpu ? std::vector<std::string>{"model.growth=16", "train.precision=\"bf16\""} : std::vector<std::string>{};
  std::vector<Run> runs;
  auto add_run = [&](const std::string& name, const std::string& key, const std::string& mode, const std::string& config) {
    Run r;
    r.name = name;
    r.key = key;
    r.mode = mode;
    r.config_file = (configs / config).string();
    runs.push_back(r);
  };
  add_run("SR uniform", "uniform", "uniform", gpu ? "paper_uniform.json" : "demo_cpu.json");
  add_run("SR balanced", "balanced", "balanced", gpu ? "paper_balanced.json" : "demo_cpu.json");
  if (args.has("wgan")) add_run("SR balanced WGAN", "balanced_wgan", "balanced", gpu ? "paper_wgan_balanced.json" : "demo_cpu_wgan.json");
  const fs::path data = out / "data", manifest_path = data / "manifest.json";
  // Every run's settings (file and --set) are checked before anything is written.
  auto run_settings = [&](const Run& r) {
    std::vector<std::string> o{"data.manifest=\"" + manifest_path.string() + "\"", "output.dir=\"" + (out / r.key).string() + "\"",
                               "sampler.mode=\"" + r.mode + "\"", std::string("train.device=\"") + (gpu ? "cuda" : "cpu") + "\""};
    o.insert(o.end(), path_settings.begin(), path_settings.end());
    o.insert(o.end(), overrides.begin(), overrides.end());
    return merge_train_config(r.config_file, o);
  };
  for (const Run& r : runs) {
    if (!fs::exists(r.config_file)) fail(r.config_file + ": no such configuration (run the demo from the repository root, or give --configs)");
    parse_train_config(run_settings(r));
  }
  const std::string age_config = (configs / "age_demo.json").string();
  if (args.has("age") && !fs::exists(age_config)) fail(age_config + ": no such configuration (run the demo from the repository root, or give --configs)");
  for (const char* name : kDemoResults)
    if (fs::exists(out / name)) {
      if (!args.has("overwrite"))
        fail(out.string() + ": holds an earlier demo (" + name + "); --overwrite replaces its results (data/ is kept), or choose another --out");
      fs::remove_all(out / name);
    }
  const std::string machine = gpu ? describe_device(DeviceKind::Cuda) : describe_device(DeviceKind::Cpu);
  if (gpu) std::printf("demo: GPU found (%s): the paper's configurations\n", machine.c_str());
  else
    std::printf("demo: no GPU, so the small CPU configuration (%s): about 7 minutes on 2 cores%s. Its numbers show\n"
                "      the pipeline working; the paper's configurations need a GPU.\n", runs[0].config_file.c_str(),
                args.has("wgan") ? ", 11 with --wgan" : "");
  if (fused_cpu)
    std::printf("demo: this CPU has AVX512-BF16: the generators train and infer in bf16 on the fused CPU kernels, with\n"
                "      growth 16 instead of the configuration's %d (model.growth=16, train.precision=\"bf16\")\n",
                parse_train_config(merge_train_config(runs[0].config_file, {})).model.growth);
  fs::create_directories(out);

  // 1. Data.
  if (fs::exists(manifest_path)) {
    std::printf("\n[1/5] prepare: using %s\n", manifest_path.string().c_str());
  } else {
    std::printf("\n[1/5] prepare Colin27 -> %s\n", data.string().c_str());
    std::vector<std::string> words{argv[0], "prepare", "--preset", "colin27", "--out", data.string(), "--device", gpu ? "cuda" : "cpu",
                                   "--templates", args.get("templates", "/usr/share/mricron/templates")};
    std::vector<char*> pargv;
    for (std::string& w : words) pargv.push_back(w.data());
    run_prepare(int(pargv.size()), pargv.data());
  }
  const Manifest manifest = Manifest::load(manifest_path.string());

  // 2. Training.
  for (size_t n = 0; n < runs.size(); ++n) {
    Run& r = runs[n];
    r.dir = (out / r.key).string();
    const nlohmann::json json = run_settings(r);
    const TrainConfig config = parse_train_config(json);
    std::printf("\n[2/5] train %s (%zu/%zu): %s, batch %d of %d^3, %d epochs%s\n", r.name.c_str(), n + 1, runs.size(),
                config.model.describe().c_str(), config.batch, config.sampler.patch, config.epochs,
                config.wgan.enabled ? (", with " + config.wgan.critic.describe()).c_str() : "");
    TrainOptions options;
    options.progress = !args.has("quiet");
    const Timer t;
    r.summary = train_generator(config, json, options);
    r.train_seconds = t.seconds();
    std::printf("  %lld steps in %s; validation PSNR %.2f dB (LR %.2f dB)%s\n", (long long)r.summary.steps,
                format_seconds(r.train_seconds).c_str(), r.summary.val_psnr.empty() ? 0.0 : r.summary.val_psnr.back(),
                r.summary.val_lr_psnr, r.summary.inert_epochs.empty() ? "" : "; the critic was inert (see the report)");
  }

  // 3. Inference on the test hemisphere.
  const SubjectEntry& subject = manifest.subjects.at(0);
  const Volume hr = read_volume(manifest.resolve(subject.hr)), lr = read_volume(manifest.resolve(subject.lr));
  const Volume brain = read_volume(manifest.resolve(subject.brain_mask)), cerebellum = read_volume(manifest.resolve(subject.cerebellum_mask));
  const VoxelBox box = test_box(manifest, brain, 8);
  std::shared_ptr<CudaContext> ctx;
#ifdef MDCSRN_HAVE_CUDA
  if (gpu) ctx = std::make_shared<CudaContext>(0);
#endif
  std::vector<Volume> sr_volumes;
  for (Run& r : runs) {
    std::printf("\n[3/5] super-resolve the test hemisphere (%lldx%lldx%lld voxels) with %s\n", (long long)(box.hi[0] - box.lo[0]),
                (long long)(box.hi[1] - box.lo[1]), (long long)(box.hi[2] - box.lo[2]), r.name.c_str());
    const TrainConfig config = parse_train_config(merge_train_config((fs::path(r.dir) / "config.json").string(), {}));
    const Timer t;
    sr_volumes.push_back(lr.like(super_resolve_box(config, r.summary.checkpoint, lr, box, ctx.get())));
    r.sr_path = (out / ("sr_" + r.key + ".nii.gz")).string();
    write_volume(sr_volumes.back(), r.sr_path, "mdcsrn demo: " + r.name);
    r.infer_seconds = t.seconds();
    std::printf("  wrote %s (%s)\n", r.sr_path.c_str(), format_seconds(r.infer_seconds).c_str());
  }

  // 4. Evaluation.
  std::printf("\n[4/5] evaluate on the test hemisphere\n");
  std::vector<Method> methods;
  for (const Run& r : runs) methods.push_back({r.name, fs::absolute(r.sr_path).string()});
  const std::vector<EvaluationRow> rows = evaluate_split(manifest, "test", methods, SsimWindow::Uniform7);
  const std::string summary = evaluation_summary(rows);
  write_text_atomically((out / "metrics.csv").string(), evaluation_csv(rows));
  std::printf("%s", summary.c_str());

  // The brain-age section.
  std::string age_section;
  if (args.has("age")) {
    std::printf("\n[age] brain age on a synthetic Colin27 cohort (HR, LR and SR of every subject, then mdcsrn age)\n");
    std::vector<DemoGenerator> generators;
    for (const Run& r : runs) generators.push_back({"SR_" + r.key, r.dir, r.summary.checkpoint});
    DemoAgeOptions o;
    o.out_dir = (out / "age").string();
    o.config_file = age_config;
    o.progress = !args.has("quiet");
    const DemoAgeResult age = run_demo_age(manifest, generators, o, ctx.get());
    age_section = demo_age_section(age, "age");
    std::printf("%s", age.study.table.c_str());
  }

  // 5. Report.
  std::printf("\n[5/5] report\n");
  const bool drawn = figures_enabled();
  if (drawn) {
    const fs::path figures = out / "figures";
    fs::create_directories(figures);
    std::vector<NamedVolume> shown{{"HR", &hr}, {"LR", &lr}};
    for (size_t n = 0; n < runs.size(); ++n) shown.push_back({runs[n].name, &sr_volumes[n]});
    const VoxelBox cerebellum_box = bounding_box(cerebellum, box, manifest.resolve(subject.cerebellum_mask) + " (test region)");
    const VoxelBox brain_box = test_box(manifest, brain, 0);
    three_view_figure(shown, brain_box, brain_box.centre(), "Colin27, test hemisphere: mid-slices").write((figures / "views").string());
    cerebellum_figure(shown, cerebellum_box, "Colin27, test hemisphere: cerebellum").write((figures / "cerebellum").string());
    const std::vector<Rgb> colors{{31, 119, 180}, {214, 39, 40}, {44, 160, 44}};
    std::vector<TrainingCurve> curves;
    for (size_t n = 0; n < runs.size(); ++n)
      curves.push_back(read_training_curve((fs::path(runs[n].dir) / "log.jsonl").string(), runs[n].name, colors[n % colors.size()]));
    loss_figure(curves).write((figures / "loss").string());
    validation_figure(curves, runs[0].summary.val_lr_psnr).write((figures / "validation").string());
  } else {
    std::printf("figures: off (built without cairo)\n");
  }

  std::ostringstream md;
  md << "# mdcsrn demo report\n\n"
     << "Colin27 (0.5 mm), LR by k-space truncation at scale 4; trained on the left hemisphere, validated on its lateral "
        "quarter, tested on the right hemisphere. Device: " << machine
     << ". Total time " << format_seconds(total.seconds()) << ".\n\n";
  if (!gpu)
    md << "No GPU: the uniform and balanced runs used `" << runs[0].config_file << "`, a small model ("
       << parse_train_config(run_settings(runs[0])).model.describe() << ") and a short schedule, so that the demo finishes in about "
       << "7 minutes on 2 cores"
       << (runs.size() > 2 ? " (the WGAN run: the same generator, 5 L1 epochs, then one WGAN epoch with a narrow critic)" : "")
       << (fused_cpu ? "; this CPU has AVX512-BF16, so the generators trained and inferred in bf16 on the fused CPU kernels, "
                     + cpu_fused_kernels() + ", with growth 16 instead of the configuration's "
                     + std::to_string(parse_train_config(merge_train_config(runs[0].config_file, {})).model.growth) + ". On a CPU "
                     "without it they train in fp32 with the configuration's model, and the numbers differ"
                     : "")
       << ". These numbers show the pipeline working; the paper's configurations need a GPU.\n\n";
  md << "## Training\n\n| run | configuration | steps | time | final loss | val PSNR | val PSNR of LR |\n| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const Run& r : runs) {
    char line[512];
    std::snprintf(line, sizeof line, "| %s | `%s` (sampler.mode=%s) | %lld | %s | %.4f | %.2f dB | %.2f dB |\n", r.name.c_str(),
                  r.config_file.c_str(), r.mode.c_str(), (long long)r.summary.steps, format_seconds(r.train_seconds).c_str(),
                  r.summary.last_loss, r.summary.val_psnr.empty() ? 0.0 : r.summary.val_psnr.back(), r.summary.val_lr_psnr);
    md << line;
  }
  for (const Run& r : runs)
    if (!r.summary.inert_epochs.empty())
      md << "\n" << r.name << ": the critic was inert in " << r.summary.inert_epochs.size() << " of its adversarial epoch(s) (its "
         << "Wasserstein estimate never left the rounding of its scores: below wgan.inert_below), so there the generator trained "
            "on L1 alone. `--set wgan.lipschitz=\"spectral\"` (spectral normalisation instead of clipping) lets it learn; "
            "docs/training.md.\n";
  md << (drawn ? "\n![training loss](figures/loss.png)\n\n![validation PSNR](figures/validation.png)\n\n" : "\n")
     << "## Test hemisphere (Table II layout)\n\nSR volumes were computed over the test hemisphere's brain bounding box (plus 8 "
        "voxels of context; elsewhere they hold the LR input); metrics are taken over the test region's brain and cerebellum "
        "masks. Per-subject values: `metrics.csv`. With one subject the paired t-tests have no degrees of freedom.\n\n"
     << summary << "\n## Figures\n\n"
     << (drawn ? "![three views](figures/views.png)\n\n![cerebellum close-up](figures/cerebellum.png)\n\n"
                 "Each figure is also in `figures/` as a PDF.\n\n"
               : "None: this build has no cairo (Debian: libcairo2-dev).\n\n")
     << "Volumes (they overlay `data/hr.nii.gz` in any viewer):";
  for (const Run& r : runs) md << " `" << fs::path(r.sr_path).filename().string() << "`";
  md << ".\n";
  if (!age_section.empty()) md << "\n" << age_section;
  write_text_atomically((out / "report.md").string(), md.str());
  std::printf("wrote %s (total %s)\n", (out / "report.md").string().c_str(), format_seconds(total.seconds()).c_str());
  return 0;
}

}  // namespace mdcsrn::cli
