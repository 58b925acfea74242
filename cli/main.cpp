// mdcsrn: the command-line program, one subcommand per stage of the method plus the demo.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "engine/communicator.h"
#include "engine/cpu_isa.h"
#include "engine/device.h"
#include "engine/error.h"

namespace {

constexpr const char* kUsage = R"(usage: mdcsrn <command> [options]

3-D brain MRI super-resolution with mDCSRN (Wang et al. 2024), in C++/CUDA.

commands:
  age      brain-age prediction from HR, LR and SR images (the paper's Table III)
  demo     the whole method on Colin27: prepare, train (uniform and balanced sampling),
           infer, evaluate, and a report with tables and figures (the README's main command)
  info     print the engine's devices and what it implements
  prepare  build HR, LR (k-space truncation), masks and a manifest from NIfTI volumes
  train    train the mDCSRN generator (or mDCSRN-WGAN) on a prepared dataset
  infer    super-resolve a whole volume with a trained checkpoint
  eval     PSNR, SSIM and NRMSE of a volume against a reference, optionally in a mask

options:
  -h, --help   show this help

Under mpirun -np N (or srun), train trains one model data-parallel over the N ranks and
infer --manifest spreads a split's subjects over them (see mdcsrn train --help, infer --help).
)";

void print_info() {
  std::printf("mdcsrn engine\n");
  std::printf("  CPU : %s\n", mdcsrn::describe_device(mdcsrn::DeviceKind::Cpu).c_str());
  std::printf("        instructions: %s%s (the CPU allows %s; MDCSRN_MAX_CPU_ISA caps them)\n", mdcsrn::cpu_isa_name(mdcsrn::cpu_isa()).c_str(),
              mdcsrn::cpu_amx_tiles() == mdcsrn::AmxTiles::Emulated ? " on emulated tiles (MDCSRN_EMULATE_AMX)" : "",
              mdcsrn::cpu_isa_name(mdcsrn::cpu_isa_detected()).c_str());
  std::printf("  CUDA: %s\n", mdcsrn::describe_device(mdcsrn::DeviceKind::Cuda).c_str());
  std::printf(
      "implemented (CPU reference + CUDA, forward and backward, checked by finite differences):\n"
      "  conv3d (kernel 1/3/7, stride 1/2, zero padding, bias; cuDNN on GPU), BatchNorm3d (train/eval),\n"
      "  ELU, LeakyReLU, ReLU, LayerNorm over (C,D,H,W), global average pooling, 3^3 max and 2^3 average\n"
      "  pooling (stride 2), a linear layer, L1/L2 losses,\n"
      "  WGAN mean-score terms, Adam with bias correction, weight clipping, Philox RNG (CPU == GPU)\n"
      "  data preparation: NIfTI I/O, k-space truncation (FFTW / cuFFT), brain and cerebellum masks,\n"
      "  the Colin27 preset (mdcsrn prepare --preset colin27)\n"
      "  the mDCSRN generator (explicit forward/backward, CPU and GPU) and its training (mdcsrn train)\n"
      "  the WGAN critic and mDCSRN-WGAN training (mdcsrn train with wgan.enabled)\n"
      "  whole-volume inference (mdcsrn infer), metrics and Table II summaries (mdcsrn eval)\n"
      "  the end-to-end demo with its report (mdcsrn demo)\n"
      "  data-parallel training and inference over MPI ranks (mpirun; CPU ranks over MPI, GPU ranks over NCCL; SyncBatchNorm)\n"
      "  brain-age prediction (mdcsrn age): a DenseNet regressor (MONAI's DenseNet121 layout) per image set,\n"
      "  K-fold cross-validation, Table III with paired t-tests\n");
}

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    // Only train and infer split their work over ranks: N ranks of another would write N copies
    // into one output.
    mdcsrn::cpu_isa();  // a malformed MDCSRN_MAX_CPU_ISA is refused before anything starts
    if (mdcsrn::Communicator::world().size() > 1 && command != "train" && command != "infer")
      mdcsrn::fail("runs as one process: under mpirun, only train and infer --manifest split their work over the ranks");
    if (command == "prepare") return mdcsrn::cli::run_prepare(argc, argv);
    if (command == "train") return mdcsrn::cli::run_train(argc, argv);
    if (command == "eval") return mdcsrn::cli::run_eval(argc, argv);
    if (command == "infer") return mdcsrn::cli::run_infer(argc, argv);
    if (command == "demo") return mdcsrn::cli::run_demo(argc, argv);
    if (command == "age") return mdcsrn::cli::run_age(argc, argv);
    if (command == "info") {
      print_info();
      return 0;
    }
    std::fprintf(stderr, "mdcsrn: unknown command '%s' (see mdcsrn --help)\n", command.c_str());
    return 2;
  } catch (const std::exception& e) {
    // The engine's errors and the standard library's (a file system refusal names its path) alike:
    // one line. Under mpirun every rank stops with it, none is left waiting in a collective.
    const mdcsrn::Communicator& world = mdcsrn::Communicator::world();
    if (world.size() > 1) world.abort("mdcsrn " + command + ": " + e.what());
    std::fprintf(stderr, "mdcsrn %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  mdcsrn::Communicator::init(argc, argv);
  const int status = run(argc, argv);
  mdcsrn::Communicator::finalize();
  return status;
}
