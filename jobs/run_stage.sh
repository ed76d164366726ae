#!/usr/bin/env bash
# Scheduler-agnostic launch of one deepvox stage (or `pipeline`), locally or inside any allocation.
#   jobs/run_stage.sh STAGE CONFIG [deepvox options...]
# Environment: RANKS (default: SLURM_NTASKS or 2), THREADS (default: SLURM_CPUS_PER_TASK or 1),
#              LAUNCHER=mpirun|srun (default: srun inside a Slurm allocation, else mpirun), DEEPVOX (binary).
set -euo pipefail
stage=${1:?usage: run_stage.sh STAGE CONFIG [options...]}
config=${2:?usage: run_stage.sh STAGE CONFIG [options...]}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${DEEPVOX:-$root/build/deepvox}
ranks=${RANKS:-${SLURM_NTASKS:-2}}
threads=${THREADS:-${SLURM_CPUS_PER_TASK:-1}}
launcher=${LAUNCHER:-$([ -n "${SLURM_JOB_ID:-}" ] && echo srun || echo mpirun)}
export OMP_NUM_THREADS=$threads
if [ "$launcher" = srun ]; then
  # Debian's Slurm and OpenMPI meet through PMIx (pmi2 does not work with them).
  exec srun --mpi=pmix --kill-on-bad-exit=1 -n "$ranks" -c "$threads" "$exe" "$stage" --config "$config" --set threads="$threads" "$@"
fi
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun -n "$ranks" --oversubscribe --map-by "slot:PE=$threads" "$exe" "$stage" --config "$config" \
  --set threads="$threads" "$@"
