#!/usr/bin/env bash
# The one device command: on a GPU machine, everything that needs the device, fail-soft, within one
# 10-minute call (scripts/device_check/main.py --help says what it runs and what it returns).
# Carry .devdeps (scripts/pack_device_deps.sh makes it) when the machine lacks the Debian libraries.
# --rehearse runs the same phases on a machine without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/device_check/main.py "$@"
