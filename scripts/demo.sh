#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh > build.log 2>&1 || { tail -n 30 build.log; exit 1; }
"${BUILD_DIR:-build}"/mdcsrn demo "$@"
