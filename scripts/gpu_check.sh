#!/usr/bin/env bash
# On a GPU machine: build, then run the GPU tests (ctest label gpu) and the CPU tests. Fails if any
# GPU test is skipped, since on a GPU machine a skip means the device was not usable.
# cuDNN, cuBLAS and cuFFT are taken from the system when present, else from the Python
# environment's nvidia/* packages (as on images that ship PyTorch).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-gpu}
hints=()
if ! ldconfig -p | grep -q "libcudnn.so"; then
  site=$(python3 -c "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))" 2>/dev/null || true)
  if [[ -n "$site" ]]; then
    hints=("-DMDCSRN_CUDA_LIBRARY_HINTS=$site/nvidia/cudnn;$site/nvidia/cu13")
    echo "using CUDA libraries from $site/nvidia"
  fi
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
BUILD_DIR=$build_dir scripts/build.sh -DMDCSRN_CUDA=ON "${hints[@]}"
scripts/run_tests.sh "$build_dir" -L gpu -j 1 | tee "$build_dir/gpu-tests.log"
if grep -q "Skipped" "$build_dir/gpu-tests.log"; then
  echo "GPU tests were skipped on a GPU machine: the device is not usable" >&2
  exit 1
fi
scripts/run_tests.sh "$build_dir" -L cpu
