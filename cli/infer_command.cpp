#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/volume.h"
#include "io/safetensors.h"
#include "models/inference.h"
#include "models/train_config.h"
#ifdef MDCSRN_HAVE_CUDA
#include "engine/cuda_context.h"
#endif

namespace mdcsrn::cli {
namespace {

constexpr const char* kHelp = R"(usage: mdcsrn infer --checkpoint FILE --input LR.nii.gz --output SR.nii.gz [options]

Super-resolves a whole volume with a trained generator (eval-mode BatchNorm) and writes it as
float32 NIfTI on the input's grid and geometry. The input is an LR volume as mdcsrn prepare makes
it (on the HR grid, on the scale of HR / max(HR)).

options:
  --stitching S   crop: tiles at stride patch - 2 margin, keeping each tile's core (the authors'
                  code: stride 26, margin 3); gaussian: overlapping tiles blended with a Gaussian
                  of sigma 0.125 patch (default crop)
  --margin N      crop margin (default 3)
  --stride N      gaussian tile stride (default 16)
  --patch N       patch size (default 32)
  --batch N       patches per forward pass (default 16)
  --device D      auto, cpu or cuda (default auto)
  --precision P   on a GPU: bf16 (default: the fast path, fused bf16 kernels on tensor cores, where
                  it covers the model, else tf32), tf32 or fp32 (the reference path); the CPU
                  computes in fp32
)";

}  // namespace

int run_infer(int argc, char** argv) {
  const Args args(argc, argv, 2, {"checkpoint", "input", "output", "stitching", "margin", "stride", "patch", "batch", "device", "precision"}, {}, "mdcsrn infer");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.has("checkpoint") || !args.has("input") || !args.has("output"))
    fail("infer: --checkpoint, --input and --output are required (see mdcsrn infer --help)");
  InferenceOptions o;
  o.stitching = parse_stitching(args.get("stitching", "crop"));
  o.margin = args.get_int("margin", 3);
  o.stride = args.get_int("stride", 16);
  o.patch = args.get_int("patch", 32);
  o.batch = args.get_int("batch", 16);
  o.precision = args.get("precision", "bf16");
  if (o.precision != "bf16" && o.precision != "tf32" && o.precision != "fp32") fail("option --precision: expected bf16, tf32 or fp32");
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
  const Volume lr = read_volume(args.get("input"));

  std::shared_ptr<CudaContext> ctx;
#ifdef MDCSRN_HAVE_CUDA
  if (device == "cuda" || (device == "auto" && cuda_device_count() > 0)) ctx = std::make_shared<CudaContext>(0);
#else
  if (device == "cuda") fail("option --device cuda: this build has no CUDA backend");
#endif
  std::printf("infer: %s on %s, %s stitching\n", model.describe().c_str(),
              ctx ? describe_device(DeviceKind::Cuda).c_str() : describe_device(DeviceKind::Cpu).c_str(),
              o.stitching == Stitching::MarginCrop ? "margin-crop" : "Gaussian");
  const auto start = std::chrono::steady_clock::now();
  std::string arithmetic;
  const std::vector<float> sr = super_resolve(model, state, lr.data, lr.dims, o, ctx.get(), &arithmetic);
  std::printf("arithmetic: %s\n", arithmetic.c_str());
  write_volume(lr.like(sr), args.get("output"), "mdcsrn infer: " + model.describe());
  std::printf("wrote %s (%.1f s)\n", args.get("output").c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace mdcsrn::cli
