#!/usr/bin/env bash
# A multi-node Slurm on 3 namespace hosts (tests/cluster/slurm_hosts.sh): the ci pipeline through slurm/,
# and the loss of a node in the middle of extract, with and without --requeue.
#   tests/cluster/test_slurm_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# 1. pipeline: slurm/submit.sh with NODES=2 RANKS=2 (import, extract), then NODES=3 RANKS=3 (fit, synth,
#    decode), srun --mpi=pmix from slurm/stage.sbatch; every job COMPLETED on 2 or 3 distinct nodes and
#    every stage file bit-identical to the single-host reference run (tests/resume/ci_run.sh).
# 2. nodeloss: two extract jobs on the same 2 nodes, one with --requeue (slurm/stage.sbatch's default) and
#    one with --no-requeue. After KILL_AFTER (6) chunks of the first, their second node crashes: link cut,
#    then its slurmd, slurmstepds and ranks SIGKILLed. Slurm marks the node DOWN; the requeued job reruns on
#    the 2 remaining nodes, resumes from its .partial, and its features.h5 equals the reference; the other
#    ends NODE_FAIL with the lost node named in its log and no features.h5 (only the .partial). Prints the
#    detection times and the work redone, then restarts the crashed node and checks it returns to service.
#    (One crash for both cases: the detection wait, about 30 s, is most of their time.)
# PARTS (default "pipeline nodeloss") picks some of 1-2. Daemons and hosts are always removed (trap).
set -euo pipefail
exe=$(cd "$(dirname "${1:?usage: test_slurm_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}")" && pwd)/$(basename "$1")
ref=${2:?usage: test_slurm_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_slurm_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
cluster=$root/tests/cluster/slurm_hosts.sh
hosts=$root/tests/cluster/hosts.sh
compare=$root/tests/resume/compare_runs.py
name=dvxs
subnet=10.78.2
kill_after=${KILL_AFTER:-6}
parts=" ${PARTS:-pipeline nodeloss} "
want() { case "$parts" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

[ "$(id -u)" -eq 0 ] || skip "network namespaces and slurmd need root"
ref=$(cd "$ref" 2>/dev/null && pwd) || skip "no reference run in $2 (the ci_reference_run fixture skipped)"
if [ ! -f "$ref/features.h5" ] || [ ! -f "$ref/model.h5" ]; then
  skip "the reference run has no features.h5 and model.h5 (extract or fit not built)"
fi
if ! command -v slurmctld >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
  skip "Slurm is not installed and apt-get is not available to install it"
fi
"$hosts" probe || skip "cannot make network namespaces, veths and a bridge here"
"$root/tests/slurm/local_cluster.sh" install || skip "could not install Slurm from Debian"

# A cluster left by an earlier run that was killed hard (CTest's timeout sends SIGKILL, no trap runs).
[ -d "$work/cluster" ] && "$cluster" stop "$work/cluster"
work=$(empty_dir "$work")
# A long client command (sbatch --wait) runs in the background while the script waits for it: `wait` returns
# as soon as a signal arrives (a foreground command would delay the trap until it ends).
waiting=""
cleanup() {
  local rc=$?
  [ -z "$waiting" ] || kill -TERM "$waiting" 2>/dev/null || true
  "$cluster" stop "$work/cluster" || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)
"$cluster" start "$work/cluster" "$name" 3 "$subnet"

# Slurm clients run on the controller's host (the login node). sbatch exports this environment to the jobs:
# yield_when_idle because the 3 nodes share 2 cores (see test_mpi_hosts.sh).
export DEEPVOX=$exe OMPI_MCA_mpi_yield_when_idle=1
sl() { "$cluster" client "$work/cluster" "$@"; }
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

# job_field, final_state, wait_job, wait_chunks (tests/resume/lib.sh) reach this cluster through sl.
slurm_client() { sl "$@"; }
# The hosts of job $1, one per line.
job_hosts() { sl scontrol show hostnames "$(job_field "$1" NodeList)"; }
# Submits extract of the ci stimuli on 2 nodes in directory $1 (more sbatch options in $2); prints the id.
submit_extract() {
  mkdir -p "$work/$1"
  (cd "$work/$1" && NODES=2 RANKS=2 THREADS=1 TIME=00:10:00 SBATCH_EXTRA=${2:-} sl "$root/slurm/submit.sh" \
    "$ref/config.yaml" extract -- --set run_dir="$work/$1/run" --set extract.images="$ref/stimuli/manifest.csv" \
    --set progress=never) | awk '{print $2}'
}
# Crashes host $1 and follows Slurm until the node is DOWN and jobs $2... have left RUNNING. Sets t_kill,
# and the seconds after the crash when the node was first seen not responding (t_noresp), DOWN (t_down),
# and when each job left RUNNING (t_gone[ID]).
declare -A t_gone
crash_node() {
  local victim=$1 id node_state state left
  shift
  "$hosts" crash "$victim"
  t_kill=$(now)
  t_noresp="" t_down=""
  t_gone=()
  for _ in $(seq 240); do # 2 minutes at most
    node_state=$(sl sinfo -h -n "$victim" -o %T)
    [ -z "$t_noresp" ] && [[ "$node_state" == *"*" ]] && t_noresp=$(since "$t_kill")
    [ -z "$t_down" ] && [[ "$node_state" == down* ]] && t_down=$(since "$t_kill")
    left=0
    for id in "$@"; do
      [ -n "${t_gone[$id]:-}" ] && continue
      state=$(job_field "$id" JobState)
      if [ "$state" != RUNNING ]; then t_gone[$id]=$(since "$t_kill"); else left=1; fi
    done
    [ -n "$t_down" ] && [ $left = 0 ] && return 0
    sleep 0.5
  done
  fail "Slurm did not notice the loss of $victim within 2 minutes (node $node_state)"
}
# Brings a crashed node back: link up, a clean spool, slurmd; ReturnToService=2 makes it idle again.
revive() {
  "$hosts" revive "$1"
  "$cluster" node-start "$work/cluster" "$1"
  "$cluster" wait-idle "$work/cluster" 3 60 || fail "$1 did not return to service"
}

# --- 1. the pipeline on 2 and 3 nodes -------------------------------------------------------------------
if want pipeline; then
  mkdir -p "$work/pipeline"
  cd "$work/pipeline"
  t0=$(date +%s)
  for chain in "2 import extract" "3 fit synth decode"; do
    read -r nodes stages <<<"$chain"
    # Own deadlines (timeout) keep the test ahead of CTest's, so the trap always stops the daemons.
    # shellcheck disable=SC2086 # one argument per stage
    WAIT=1 NODES=$nodes RANKS=$nodes THREADS=1 TIME=00:10:00 timeout 400 "$cluster" client "$work/cluster" \
      "$root/slurm/submit.sh" "$ref/config.yaml" $stages -- --set run_dir="$work/pipeline/run" \
      --set progress=never >>submit.txt 2>&1 &
    waiting=$!
    wait "$waiting" || {
      cat submit.txt deepvox-*.out >&2 || true
      fail "the chain $stages on $nodes nodes failed"
    }
    waiting=""
  done
  cat submit.txt
  while read -r stage id; do
    state=$(job_field "$id" JobState)
    [ "$state" = COMPLETED ] || fail "job $id ($stage) is $state"
    used=$(job_hosts "$id" | sort -u | wc -l)
    want_nodes=$(case "$stage" in import | extract) echo 2 ;; *) echo 3 ;; esac)
    [ "$used" -eq "$want_nodes" ] || fail "job $id ($stage) ran on $used nodes, not $want_nodes"
    echo "  $stage: job $id on $(job_field "$id" NodeList)," \
      "$(grep -o "rank 0/[0-9]* [a-z0-9-]*" "deepvox-deepvox-$stage-$id.out" | head -1)"
  done <submit.txt
  files="responses.h5 truth.h5 features.h5 model.h5 synthetic.h5 decoding.h5"
  # shellcheck disable=SC2086 # one argument per file
  /usr/bin/python3 "$compare" "$ref" "$work/pipeline/run" $files ||
    fail "the stages through the multi-node Slurm differ from the single-host reference"
  echo "ok: import+extract on 2 nodes, fit+synth+decode on 3 nodes through slurm/submit.sh in" \
    "$(($(date +%s) - t0)) s, bit-identical to one host: $files"
  cd "$work"
fi

# --- 2. node loss mid-extract, with and without --requeue ------------------------------------------------
if want nodeloss; then
  rq=$(submit_extract requeue)
  for _ in $(seq 120); do [ "$(job_field "$rq" JobState)" = RUNNING ] && break; sleep 0.5; done
  nodes=$(job_hosts "$rq" | paste -sd,)
  batch=$(job_field "$rq" BatchHost)
  victim=$(job_hosts "$rq" | grep -vx "$batch" | head -1)
  [ -n "$victim" ] || fail "job $rq has no node besides its batch host $batch"
  # Each job takes one core per node, so the second fits on the same two nodes (and the same batch host).
  nr=$(submit_extract norequeue "--no-requeue --nodelist=$nodes")
  rq_partial=$work/requeue/run/features.h5.partial
  nr_partial=$work/norequeue/run/features.h5.partial
  counts=$(wait_chunks "$rq_partial" "$rq" "$kill_after" 150)
  nr_counts=$(wait_chunks "$nr_partial" "$nr" 1 150)
  [ "$(job_field "$nr" BatchHost)" != "$victim" ] || fail "job $nr runs its batch script on $victim"
  crash_node "$victim" "$rq" "$nr"
  at_down=$(chunks_done "$rq_partial")
  echo "nodeloss: crashed $victim with jobs $rq (requeue, ${counts% *} chunks recorded) and $nr" \
    "(no requeue, ${nr_counts% *} chunks) on it: node not responding after ${t_noresp:-?} s, DOWN after" \
    "$t_down s; job $rq left RUNNING after ${t_gone[$rq]} s, job $nr after ${t_gone[$nr]} s"

  # With --requeue: the rerun resumes from the checkpoint, on the remaining nodes, to the same bytes.
  state=$(wait_job "$rq" 240)
  out=$work/requeue/deepvox-deepvox-extract-$rq.out
  [ "$state" = COMPLETED ] || { cat "$out" >&2; fail "requeue: job $rq ended $state"; }
  [ "$(job_field "$rq" Restarts)" -ge 1 ] || fail "requeue: job $rq was not requeued"
  grep -q "restart 1" "$out" || { cat "$out" >&2; fail "requeue: the rerun did not see SLURM_RESTART_COUNT=1"; }
  grep -q "resuming from" "$out" || { cat "$out" >&2; fail "requeue: the rerun did not resume from the .partial"; }
  if job_hosts "$rq" | grep -qx "$victim"; then fail "requeue: the rerun used the lost node $victim"; fi
  line=$(grep "extract images: " "$out" | tail -1)
  resumed=$(echo "$line" | grep -o '[0-9]* resumed' | awk '{print $1}')
  total=$(echo "$line" | grep -o 'images: [0-9]*/[0-9]*' | cut -d/ -f2)
  [ "${resumed:-0}" -gt 0 ] || { cat "$out" >&2; fail "requeue: the rerun resumed no image"; }
  /usr/bin/python3 "$compare" "$ref" "$work/requeue/run" features.h5 ||
    fail "requeue: the resumed features.h5 differs from the reference"
  # Work redone: the rerun computes every image the .partial did not record; of those, only the chunks in
  # flight when the node died (at most one per rank) had been started before.
  echo "ok: requeue: job $rq requeued ($(job_field "$rq" Restarts) restart) and rerun on" \
    "$(job_field "$rq" NodeList): resumed $resumed of $total images (${at_down% *} chunks recorded)," \
    "computed $((total - resumed)), of which at most $((2 * 8)) (the chunks in flight at the crash) had" \
    "been started before; rerun ${line##*done in }; features.h5 bit-identical to the reference"

  # Without requeue: a clean failure, the lost node named, no complete-looking file.
  state=$(wait_job "$nr" 60)
  out=$work/norequeue/deepvox-deepvox-extract-$nr.out
  [ "$state" = NODE_FAIL ] || { cat "$out" >&2; fail "norequeue: job $nr ended $state, not NODE_FAIL"; }
  [ "$(job_field "$nr" Restarts)" = 0 ] || fail "norequeue: job $nr was requeued"
  # srun on the batch host reports the lost node before it is killed with the job.
  grep -q "$victim" "$out" || { cat "$out" >&2; fail "norequeue: the job's log does not name $victim"; }
  [ ! -e "$work/norequeue/run/features.h5" ] ||
    fail "norequeue: a failed stage left a complete-looking features.h5"
  echo "ok: norequeue: job $nr $state (reason $(job_field "$nr" Reason)); its log: $(grep -m1 "$victim" "$out");" \
    "no features.h5$([ -f "$nr_partial" ] && echo ", the .partial kept for a later rerun")"

  t0=$(now)
  revive "$victim"
  echo "ok: $victim restarted on a clean spool and back in service after $(since "$t0") s"
fi
echo "all multi-node Slurm checks passed in $(($(date +%s) - t_start)) s"
