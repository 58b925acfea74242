#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
# GPU tests (label gpu) report "Skipped" without a device: they are never counted as passed.
# Where nvcc exists, the CPU-only configuration without figures (MDCSRN_CUDA=OFF, MDCSRN_FIGURES=OFF,
# as a machine without cairo builds) is built too, so it keeps compiling: every target with code
# under MDCSRN_HAVE_CUDA or MDCSRN_HAVE_CAIRO (the emulator's tests, test_emu, have none and take
# the longest to build with AddressSanitizer, so they are built once, in build/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --tests
scripts/build.sh
if command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  echo "building the CPU-only configuration without figures (MDCSRN_CUDA=OFF, MDCSRN_FIGURES=OFF) into build-nocuda/"
  BUILD_TARGETS="mdcsrn test_cpu test_colin27 bench_data bench_train_step bench_cpu_step bench_cpu_infer bench_wgan_step" BUILD_DIR=build-nocuda \
    scripts/build.sh -DMDCSRN_CUDA=OFF -DMDCSRN_FIGURES=OFF > build-nocuda.log 2>&1 || { tail -n 30 build-nocuda.log; exit 1; }
fi
scripts/run_tests.sh "${BUILD_DIR:-build}"
