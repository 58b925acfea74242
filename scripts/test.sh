#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
# GPU tests (label gpu) report "Skipped" without a device: they are never counted as passed.
# Where nvcc exists, the CPU-only configuration (MDCSRN_CUDA=OFF) is built too, so it keeps compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
if command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  echo "building the CPU-only configuration (MDCSRN_CUDA=OFF) into build-nocuda/"
  BUILD_DIR=build-nocuda scripts/build.sh -DMDCSRN_CUDA=OFF > build-nocuda.log 2>&1 || { tail -n 30 build-nocuda.log; exit 1; }
fi
scripts/run_tests.sh "${BUILD_DIR:-build}"
