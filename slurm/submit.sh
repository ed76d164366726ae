#!/usr/bin/env bash
# Submits the stages of a config as a chain of Slurm jobs with afterok dependencies; prints the job ids.
#   slurm/submit.sh CONFIG [STAGE ...] [-- deepvox options...]
# Stages default to every stage this build has, in pipeline order. Resources come from the environment:
#   NODES (1), RANKS (2: total tasks), THREADS (1: cpus per task), MEM (e.g. 8G), TIME (01:00:00),
#   ACCOUNT, PARTITION, GPUS (adds --gres=gpu:N), SBATCH_EXTRA (more sbatch options), WAIT=1 (sbatch --wait
#   on the last job, then exit non-zero unless every job of the chain COMPLETED), DEEPVOX (the binary),
#   ARRAY=N: maximize, explain and reconstruct run as a job array of N tasks (each computes its share of
#   the targets, `array.task` of `array.tasks`), followed by the stage itself, which collects their chunks
#   and writes the stage file; it starts after every task succeeded (afterok on the array).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:?usage: submit.sh CONFIG [STAGE ...] [-- options...]}
shift
stages=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do stages+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
exe=${DEEPVOX:-$root/build/deepvox}
if [ ${#stages[@]} -eq 0 ]; then
  # Every stage the binary has built, in pipeline order (`pipeline` itself would run them all again).
  mapfile -t stages < <("$exe" --help | awk '/^Stages/{s=1;next} /^$/{s=0} s && !/not built/ && $1 != "pipeline" {print $1}')
fi
args=(--nodes="${NODES:-1}" --ntasks="${RANKS:-2}" --cpus-per-task="${THREADS:-1}" --time="${TIME:-01:00:00}")
[ -n "${MEM:-}" ] && args+=(--mem="$MEM")
[ -n "${ACCOUNT:-}" ] && args+=(--account="$ACCOUNT")
[ -n "${PARTITION:-}" ] && args+=(--partition="$PARTITION")
[ -n "${GPUS:-}" ] && args+=(--gres="gpu:$GPUS")
# shellcheck disable=SC2206
[ -n "${SBATCH_EXTRA:-}" ] && args+=(${SBATCH_EXTRA})
prev=""
ids=()
names=()
last=${stages[-1]}
submit_array() {  # STAGE [deepvox options]: prints the array job's id
  local stage=$1 dep=()
  shift
  [ -n "$prev" ] && dep=(--dependency="afterok:$prev")
  sbatch --parsable --array="0-$((array - 1))" --job-name="deepvox-$stage-array" --chdir="$PWD" "${args[@]}" \
    "${dep[@]}" --export=ALL,DEEPVOX_ROOT="$root" "$root/slurm/stage.sbatch" "$stage" "$config" "$@"
}
array=${ARRAY:-0}
for stage in "${stages[@]}"; do
  case "$stage" in maximize | explain | reconstruct)
    if [ "$array" -gt 1 ]; then
      id=$(submit_array "$stage" "$@")
      id=${id%%;*}
      echo "$stage-array $id"
      prev=$id
      ids+=("$id")
      names+=("$stage-array")
    fi
    ;;
  esac
  dep=()
  [ -n "$prev" ] && dep=(--dependency="afterok:$prev")
  wait_flag=()
  [ "${WAIT:-0}" = 1 ] && [ "$stage" = "$last" ] && wait_flag=(--wait)
  set +e
  id=$(sbatch --parsable --job-name="deepvox-$stage" --chdir="$PWD" "${args[@]}" "${dep[@]}" "${wait_flag[@]}" \
    --export=ALL,DEEPVOX_ROOT="$root" "$root/slurm/stage.sbatch" "$stage" "$config" "$@")
  rc=$?
  set -e
  id=${id%%;*}
  echo "$stage $id"
  [ $rc -ne 0 ] && exit $rc
  prev=$id
  ids+=("$id")
  names+=("$stage")
done
# sbatch --wait returns 0 for a job cancelled before it ran (an afterok child of a failed stage), so the
# chain's result is the jobs' final states. Each job of the chain waited on its predecessor's afterok, so
# the last job COMPLETED means every job did (slurmctld forgets finished jobs after MinJobAge, 300 s by
# default, so the earlier ones of a long chain may be gone by now).
job_state() {  # an array job shows one line per task: their distinct states
  {
    scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2
    if command -v sacct >/dev/null 2>&1; then sacct -n -X -P -o State -j "$1" 2>/dev/null | awk '{print $1}'; fi
  } | sort -u | tr '\n' ' ' | sed 's/ $//' || true
}
if [ "${WAIT:-0}" = 1 ]; then
  [ "$(job_state "${ids[-1]}")" = COMPLETED ] && exit 0
  for i in "${!ids[@]}"; do
    state=$(job_state "${ids[$i]}")
    [ "$state" = COMPLETED ] || echo "submit: job ${ids[$i]} (${names[$i]}) ended ${state:-(no longer known to Slurm)}" >&2
  done
  exit 1
fi
