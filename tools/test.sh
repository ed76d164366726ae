#!/usr/bin/env bash
# Installs everything (tools/setup.sh), builds, and runs the whole test suite with CTest.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -j "${DEEPVOX_TEST_JOBS:-2}" --timeout 900 "$@"
