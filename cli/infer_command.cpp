#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/communicator.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/volume.h"
#include "io/safetensors.h"
#include "models/inference.h"
#include "models/split_inference.h"
#include "models/train_config.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn infer --checkpoint FILE --input LR.nii.gz --output SR.nii.gz [options]
       mdcsrn infer --checkpoint FILE --manifest M.json [--split test] --out DIR [options]

Super-resolves a whole volume with a trained generator (eval-mode BatchNorm) and writes it as
float32 NIfTI on the input's grid and geometry. The input is an LR volume as mdcsrn prepare makes
it (on the HR grid, on the scale of HR / max(HR)). An existing --output is replaced, atomically:
the volume is written to a temporary file beside it and renamed once complete, so a failed or
interrupted run leaves the old file as it was.

The second form super-resolves the LR volume of every subject of a split of a prepared dataset
into DIR/<id>_sr.nii.gz, which mdcsrn eval --manifest M.json --split test
--method mDCSRN=DIR/{id}_sr.nii.gz then evaluates (the paper's Table II). Under mpirun -np N the
subjects are spread over the ranks (subject k on rank k mod N, each rank on its node-local GPU);
the volumes are the same whatever N. Every LR volume's header is checked before the first is
super-resolved, and the results replace earlier volumes of the same names only once all are
written: a failed run leaves DIR as it was.

options:
  --stitching S   crop: tiles at stride patch - 2 margin, keeping each tile's core (the authors'
                  code: stride 26, margin 3); gaussian: overlapping tiles blended with a Gaussian
                  of sigma 0.125 patch (default crop)
  --margin N      crop margin (default 3)
  --stride N      gaussian tile stride (default 16)
  --patch N       patch size (default 32)
  --batch N       patches per forward pass (default 16)
  --device D      auto, cpu or cuda (default auto)
  --precision P   auto (default: bf16 on a GPU, fp32 on the CPU), bf16 (the fused bf16 kernels:
                  tensor cores on a GPU, AVX512-BF16 or AVX2 on the CPU, where they cover the
                  model, else tf32 on a GPU and fp32 on the CPU), tf32 or fp32 (the reference
                  path; the CPU has no tf32)
  --quiet         no progress bar (--manifest)
)";

}  // namespace

int run_infer(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  {"checkpoint", "input", "output", "manifest", "split", "out", "stitching", "margin", "stride", "patch", "batch", "device",
                   "precision"},
                  {"quiet"}, "mdcsrn infer");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const bool over_split = args.has("manifest");
  if (!args.has("checkpoint") || (over_split ? !args.has("out") : !args.has("input") || !args.has("output")))
    fail("infer: give --checkpoint with --input and --output, or with --manifest and --out (see mdcsrn infer --help)");
  if (over_split && (args.has("input") || args.has("output"))) fail("infer: --manifest and --input/--output are two forms; give one");
  const Communicator& world = Communicator::world();
  if (!over_split && world.size() > 1) fail("infer --input: one volume runs as one process; --manifest spreads subjects over the ranks");
  InferenceOptions o;
  o.stitching = parse_stitching(args.get("stitching", "crop"));
  o.margin = args.get_int("margin", 3);
  o.stride = args.get_int("stride", 16);
  o.patch = args.get_int("patch", 32);
  o.batch = args.get_int("batch", 16);
  o.precision = args.get("precision", "auto");
  check_inference_options(o);
  const std::string device = args.get("device", "auto");
  if (device != "auto" && device != "cpu" && device != "cuda") fail("option --device: expected auto, cpu or cuda");

  // The model's shape is in the checkpoint's configuration.
  const std::string path = args.get("checkpoint");
  const SafeTensors st = SafeTensors::load(path);
  GeneratorConfig model;
  try {
    model = parse_model_config(nlohmann::json::parse(st.metadata("config")).at("model"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(path + ": its configuration cannot be read (" + std::string(e.what()) + ")");
  }
  const GeneratorState state = load_checkpoint(path, GeneratorLayout(model));
  const std::optional<Manifest> manifest = over_split ? std::optional<Manifest>(Manifest::load(args.get("manifest"))) : std::nullopt;
  const Volume lr = over_split ? Volume{} : read_volume(args.get("input"));
  if (over_split) check_split_inputs(*manifest, args.get("split", "test"));

  std::shared_ptr<CudaContext> ctx;
#ifdef MDCSRN_HAVE_CUDA
  // Each rank on its node-local GPU.
  if (device == "cuda" || (device == "auto" && cuda_device_count() > 0))
    ctx = std::make_shared<CudaContext>(world.local_rank() % std::max(1, cuda_device_count()));
#else
  if (device == "cuda") fail("option --device cuda: this build has no CUDA backend");
#endif
  if (world.leader())
    std::printf("infer: %s on %s, %s stitching\n", model.describe().c_str(),
                ctx ? describe_device(DeviceKind::Cuda).c_str() : describe_device(DeviceKind::Cpu).c_str(),
                o.stitching == Stitching::MarginCrop ? "margin-crop" : "Gaussian");
  const auto start = std::chrono::steady_clock::now();
  std::string arithmetic;
  if (over_split) {
    const std::string split = args.get("split", "test"), out = args.get("out");
    const size_t subjects = manifest->split(split).size();
    if (world.leader() && world.size() > 1) std::printf("%zu subjects of split %s over %d ranks\n", subjects, split.c_str(), world.size());
    super_resolve_split(*manifest, split, model, state, o, out, ctx.get(), world, world.leader() && !args.has("quiet"), &arithmetic);
    if (!world.leader()) return 0;
    std::printf("arithmetic: %s\nwrote %zu volumes to %s (%.1f s); evaluate them with\n  mdcsrn eval --manifest %s --split %s --method mDCSRN=%s\n",
                arithmetic.c_str(), subjects, out.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                args.get("manifest").c_str(), split.c_str(), split_output_path(out, "{id}").c_str());
    return 0;
  }
  const std::vector<float> sr = super_resolve(model, state, lr.data, lr.dims, o, ctx.get(), &arithmetic);
  std::printf("arithmetic: %s\n", arithmetic.c_str());
  write_volume(lr.like(sr), args.get("output"), "mdcsrn infer: " + model.describe());
  std::printf("wrote %s (%.1f s)\n", args.get("output").c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace mdcsrn::cli
