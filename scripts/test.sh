#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
# GPU tests (label gpu) report "Skipped" without a device: they are never counted as passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
scripts/run_tests.sh "${BUILD_DIR:-build}"
