#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh > build.log 2>&1 || { tail -n 30 build.log; exit 1; }
# The script reproduces the README's table: run again, it replaces its earlier demo (the data is kept).
"${BUILD_DIR:-build}"/mdcsrn demo --overwrite "$@"
