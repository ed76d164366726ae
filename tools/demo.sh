#!/usr/bin/env bash
# Installs everything (tools/setup.sh), builds, and runs the whole pipeline on the embedded demo
# (configs/demo.yaml) with 2 MPI ranks of 1 thread each. This is the README's first command.
#   tools/demo.sh [extra deepvox options, e.g. --set run_dir=/scratch/demo]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ranks=${DEEPVOX_RANKS:-2}
threads=${DEEPVOX_THREADS:-1}
mpirun -n "$ranks" --oversubscribe --map-by "slot:PE=$threads" build/deepvox pipeline --config configs/demo.yaml \
  --set threads="$threads" "$@"
