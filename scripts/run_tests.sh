#!/usr/bin/env bash
# Runs ctest in a build folder and ends with one honest summary line: skipped tests (GPU tests
# without a device) are counted as skipped, never as passed.
# usage: scripts/run_tests.sh BUILD_DIR [extra ctest arguments]
set -uo pipefail
build_dir=$1
shift
log="$build_dir/ctest.log"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -cE "Test +#[0-9]+: .* Passed" "$log")
failed=$(grep -cE "Test +#[0-9]+: .*\*\*\*(Failed|Exception|Timeout|Not Run)" "$log")
skipped=$(grep -cE "Test +#[0-9]+: .*\*\*\*Skipped" "$log")
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
