#!/usr/bin/env bash
# The ci pipeline through a real Slurm on localhost (slurm/submit.sh + slurm/stage.sbatch + srun --mpi=pmix).
#   tests/slurm/test_slurm.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# 1. Installs Slurm + munge from Debian when missing (root + apt; otherwise SKIP), starts a one-node cluster.
# 2. Submits every stage of the reference run as an afterok chain (WAIT=1; maximize, explain and reconstruct
#    as 2-task job arrays, ARRAY=2) and checks each job COMPLETED and each stage file is bit-identical to the
#    reference (a direct mpirun run, tests/resume/ci_run.sh).
# 3. A stage failing on rank 1 fails its job, the chain's next job is cancelled, submit.sh exits non-zero.
# 4. scontrol requeue of a running extract (what preemption or a node failure does): the rerun sees
#    SLURM_RESTART_COUNT=1, resumes from the .partial and gives the reference's features.
# 5. The time-limit path: USR1 to the batch shell (what --signal=B:USR1@120 sends) stops the stage,
#    requeues the job, and the rerun resumes to the same bytes.
# The daemons it started are always stopped (trap). REQUEUE_IMAGES (32) images are used in 4 and 5.
# PARTS (default "pipeline fail requeue usr1") picks some of 2-5.
set -euo pipefail
exe=$(cd "$(dirname "${1:?usage: test_slurm.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}")" && pwd)/$(basename "$1")
ref=${2:?usage: test_slurm.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_slurm.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
ref=$(cd "$ref" 2>/dev/null && pwd) || skip "no reference run in $2 (the ci_reference_run fixture skipped)"
cluster=$root/tests/slurm/local_cluster.sh
compare=$root/tests/resume/compare_runs.py
requeue_images=${REQUEUE_IMAGES:-32}
parts=" ${PARTS:-pipeline fail requeue usr1} "
want() { case "$parts" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ "$(id -u)" -ne 0 ]; then skip "the local Slurm cluster needs root (slurmd runs jobs as their user)"; fi
if ! command -v slurmctld >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
  skip "Slurm is not installed and apt-get is not available to install it"
fi
[ -s "$ref/stages.txt" ] || fail "no reference run in $ref (the ci_run fixture failed?)"
"$cluster" install || skip "could not install Slurm from Debian"

# A cluster left by an earlier run that was killed hard (CTest's timeout sends SIGKILL, no trap runs).
[ -d "$work/cluster" ] && "$cluster" stop "$work/cluster"
work=$(empty_dir "$work")
cleanup() {
  local rc=$?
  "$cluster" stop "$work/cluster" || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$cluster" start "$work/cluster" 2
export SLURM_CONF=$work/cluster/slurm.conf
export DEEPVOX=$exe
cd "$work"

# job_field, wait_job, wait_chunks: tests/resume/lib.sh.

# --- 2. the pipeline as an afterok chain --------------------------------------------------------------------
if want pipeline; then
  stages=$(cat "$ref/stages.txt")
  t0=$(date +%s)
  # Own deadlines (timeout) keep the test ahead of CTest's, so the trap always stops the daemons.
  # shellcheck disable=SC2086 # one argument per stage
  # ARRAY=2: maximize, explain and reconstruct each run as a 2-task job array plus the collecting job.
  WAIT=1 ARRAY=2 RANKS=2 THREADS=1 TIME=00:15:00 timeout 600 "$root/slurm/submit.sh" "$ref/config.yaml" $stages -- \
    --set run_dir="$work/run" --set progress=never >submit.txt 2>&1 || {
    cat submit.txt deepvox-*.out >&2 || true
    fail "the pipeline through Slurm failed"
  }
  cat submit.txt
  echo "pipeline through Slurm: $(($(date +%s) - t0)) s"
  while read -r stage id; do
    # An array job has one line per task: every task must have completed.
    [ "$(job_field "$id" JobState | sort -u)" = COMPLETED ] || fail "job $id ($stage) is $(job_field "$id" JobState)"
  done <submit.txt
  files=$(cd "$ref" && ls -- *.h5)
  [ -n "$files" ] || fail "the reference run has no stage files"
  # shellcheck disable=SC2086
  # shellcheck disable=SC2086 # one argument per file
  /usr/bin/python3 "$compare" "$ref" "$work/run" $files || fail "Slurm outputs differ from the mpirun run"
  if [ -d "$ref/stimuli" ]; then
    diff -r -q "$ref/stimuli" "$work/run/stimuli" || fail "the stimuli written through Slurm differ"
fi
echo "ok: $(echo "$stages" | wc -w) stages through Slurm, bit-identical to mpirun:" "$files"
fi

# --- 3. a failing stage stops the chain ---------------------------------------------------------------------
if want fail; then
  mkdir -p fail
  set +e
  (cd fail && WAIT=1 RANKS=2 THREADS=1 TIME=00:05:00 timeout 300 \
    "$root/slurm/submit.sh" "$ref/config.yaml" extract fit -- \
    --set run_dir="$work/fail/run" --set extract.images="$ref/stimuli/manifest.csv" \
    --set debug.fail_on_rank=1 \
    >submit.txt 2>&1)
  rc=$?
  set -e
  cat fail/submit.txt
  [ $rc -ne 0 ] || fail "submit.sh exited 0 although its first stage failed"
  first=$(awk '$1 == "extract" {print $2}' fail/submit.txt)
  second=$(awk '$1 == "fit" {print $2}' fail/submit.txt)
  if [ -z "$first" ] || [ -z "$second" ]; then fail "submit.sh did not print both job ids"; fi
  [ "$(wait_job "$first" 60)" = FAILED ] ||
    fail "the failing extract job is $(job_field "$first" JobState), not FAILED"
  state=$(wait_job "$second" 60)
  [ "$state" = CANCELLED ] || fail "the job after the failed one is $state, not CANCELLED"
  grep -q "injected failure" fail/deepvox-deepvox-extract-"$first".out ||
    fail "the failed job's log lacks the cause"
  [ ! -e fail/run/features.h5 ] || fail "a failed stage left a final features.h5"
  echo "ok: failed extract ($first: FAILED, exit $(job_field "$first" ExitCode))" \
    "cancelled fit ($second: $state," \
    "$(job_field "$second" Reason)); submit.sh exit $rc"
fi

# --- 4 and 5: requeue and the time-limit signal, each resumed from the .partial -----------------------------
# The first REQUEUE_IMAGES stimuli of the reference run, paths made absolute.
/usr/bin/python3 "$root/jobs/scaling_tool.py" inputs extract "$ref" "$work/subset" "$requeue_images" \
  >/dev/null
requeue_case() {
  local name=$1 how=$2 id counts out
  mkdir -p "$name"
  id=$(cd "$name" && RANKS=2 THREADS=1 TIME=00:05:00 "$root/slurm/submit.sh" "$ref/config.yaml" extract -- \
    --set run_dir="$work/$name/run" --set extract.images="$work/subset/manifest.csv" --set progress=never |
    awk '{print $2}')
  counts=$(wait_chunks "$work/$name/run/features.h5.partial" "$id" 2 120)
  if [ "$how" = requeue ]; then
    scontrol requeue "$id"
  else
    scancel --batch --signal=USR1 "$id"
  fi
  echo "$name: job $id interrupted with $counts chunks done"
  local state
  state=$(wait_job "$id" 180)
  out=$name/deepvox-deepvox-extract-$id.out
  [ "$state" = COMPLETED ] || { cat "$out" >&2; fail "$name: job $id ended $state"; }
  [ "$(job_field "$id" Restarts)" -ge 1 ] || fail "$name: job $id was not requeued"
  grep -q "restart 1" "$out" || { cat "$out" >&2; fail "$name: the rerun did not see SLURM_RESTART_COUNT=1"; }
  if ! grep -q "resuming from" "$out" || ! grep -q "[1-9][0-9]* resumed" "$out"; then
    cat "$out" >&2
    fail "$name: the rerun did not resume the finished chunks from the .partial"
  fi
  [ "$how" = requeue ] || grep -q "time limit near" "$out" || fail "$name: the USR1 handler did not run"
  /usr/bin/python3 "$compare" --rows 0 "$requeue_images" "$work/$name/run/features.h5" "$ref/features.h5" ||
    fail "$name: resumed features differ from the reference"
  echo "ok: $name: job $id requeued ($(job_field "$id" Restarts) restart)," \
    "then $(grep -o '[0-9]* resumed' "$out" | tail -1)"
}
if want requeue; then requeue_case requeue requeue; fi
if want usr1; then requeue_case usr1 usr1; fi
echo "all Slurm checks passed"
