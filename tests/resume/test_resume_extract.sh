#!/usr/bin/env bash
# Extract killed midway resumes: only unfinished chunks are redone and the result is bit-identical.
#   tests/resume/test_resume_extract.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# 1. Runs extract on the ci stimuli at 2 ranks, waits until KILL_AFTER (8 of 25) chunks are recorded in the
#    .partial's /chunks/done, and SIGKILLs rank 1 (a node failure: no cleanup, no signal handler).
# 2. Checks the kill left a .partial and no features.h5, then reruns the same command: it must report
#    exactly the images of the recorded chunks as resumed, and features.h5 must equal the reference run
#    (tests/resume/ci_run.sh, uninterrupted) byte for byte, every dataset.
# 3. A .partial written for other inputs, and a torn (unreadable) one, are discarded and recomputed.
set -euo pipefail
exe=${1:?usage: test_resume_extract.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
ref=${2:?usage: test_resume_extract.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_resume_extract.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
ref=$(cd "$ref" 2>/dev/null && pwd) || skip "no reference run in $2 (the ci_reference_run fixture skipped)"
compare=$root/tests/resume/compare_runs.py
kill_after=${KILL_AFTER:-8}
[ -f "$ref/features.h5" ] || skip "no reference features.h5 in $ref (extract is not built)"
work=$(empty_dir "$work")
manifest=$ref/stimuli/manifest.csv
extract() { # extract RUN_DIR IMAGES [more options]: the stage through jobs/run_stage.sh, 2 ranks x 1 thread
  local run_dir=$1 images=$2
  shift 2
  DEEPVOX=$exe RANKS=2 THREADS=1 "$root/jobs/run_stage.sh" extract "$ref/config.yaml" \
    --set run_dir="$run_dir" \
    --set progress=never --set extract.images="$images" "$@"
}
launcher=""
cleanup() {
  local rc=$? pid
  if [ -n "$launcher" ]; then
    for pid in $(descendants "$launcher") $launcher; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  exit $rc
}
trap cleanup EXIT

# --- 1. kill rank 1 after KILL_AFTER chunks ---------------------------------------------------------------
partial=$work/run/features.h5.partial
extract "$work/run" "$manifest" >"$work/killed.log" 2>&1 &
launcher=$!
counts="0 0"
for _ in $(seq 1200); do # 5 minutes at most
  if [ -f "$partial" ]; then
    counts=$(chunks_done "$partial")
    [ "${counts%% *}" != "?" ] && [ "${counts%% *}" -ge "$kill_after" ] && break
  fi
  if ! kill -0 "$launcher" 2>/dev/null; then
    cat "$work/killed.log" >&2
    fail "extract ended before $kill_after chunks were done"
  fi
  sleep 0.25
done
# The ranks: processes below the launcher whose command line is "DEEPVOX extract ...".
ranks=""
for pid in $(descendants "$launcher"); do
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ "$cmd" == "$exe extract "* ]] && ranks="$ranks $pid"
done
rank1=$(echo "$ranks" | awk '{print $2}')
[ -n "$rank1" ] || fail "could not find the second rank of extract (ranks: $ranks)"
kill -KILL "$rank1"
echo "killed rank pid $rank1 with $counts chunks recorded"
set +e
wait "$launcher"
rc=$?
set -e
launcher=""
[ $rc -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
[ ! -e "$work/run/features.h5" ] || fail "a killed run left a final features.h5"
[ -f "$partial" ] || fail "the killed run left no .partial"
read -r done_chunks total_chunks <<<"$(chunks_done "$partial")"
[ "$done_chunks" != "?" ] || fail "the .partial left by the kill cannot be read"
[ "$done_chunks" -lt "$total_chunks" ] || fail "all $done_chunks chunks were done before the kill"
# Images in the recorded chunks (the last chunk may be short).
done_images=$(HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('$partial', 'r') as f:
    done, b, n = f['chunks/done'][()], int(f.attrs['batch_size']), f['stimulus_ids'].shape[0]
print(sum(min(b, n - c * b) for c in np.flatnonzero(done)))")
cp "$partial" "$work/killed.partial"

# --- 2. rerun: only the unfinished chunks, and the same bytes ----------------------------------------------
t0=$(date +%s)
if ! extract "$work/run" "$manifest" >"$work/resumed.log" 2>&1; then
  cat "$work/resumed.log" >&2
  fail "the resumed run failed"
fi
grep -q "resuming from" "$work/resumed.log" || fail "the rerun did not resume (see $work/resumed.log)"
line=$(grep "extract images: " "$work/resumed.log" | tail -1)
resumed=$(echo "$line" | grep -o '[0-9]* resumed' | awk '{print $1}')
[ "${resumed:-0}" = "$done_images" ] ||
  fail "the rerun skipped ${resumed:-0} images, but $done_images were recorded done ($line)"
/usr/bin/python3 "$compare" "$ref" "$work/run" features.h5 || fail "the resumed features.h5 differs"
[ ! -e "$partial" ] || fail "the .partial is still there after the commit"
echo "ok: killed after $done_chunks/$total_chunks chunks; the rerun ($(($(date +%s) - t0)) s) skipped" \
  "$done_images images, redid the rest, and features.h5 is bit-identical to the uninterrupted run"

# --- 3. a .partial for other inputs, and a torn one, are discarded -----------------------------------------
/usr/bin/python3 "$root/jobs/scaling_tool.py" inputs extract "$ref" "$work/subset" 16 >/dev/null
for kind in foreign torn; do
  mkdir -p "$work/$kind"
  if [ $kind = foreign ]; then
    cp "$work/killed.partial" "$work/$kind/features.h5.partial" # same stage, other stimulus list
  else
    head -c 20000 "$work/killed.partial" >"$work/$kind/features.h5.partial" # cut mid-file
  fi
  extract "$work/$kind" "$work/subset/manifest.csv" >"$work/$kind.log" 2>&1 ||
    { cat "$work/$kind.log" >&2; fail "extract with a $kind .partial failed"; }
  grep -q "discarding" "$work/$kind.log" || fail "the $kind .partial was not discarded (see $work/$kind.log)"
  if grep -q "[0-9] resumed" "$work/$kind.log"; then fail "chunks were taken from a $kind .partial"; fi
  /usr/bin/python3 "$compare" --rows 0 16 "$work/$kind/features.h5" "$ref/features.h5" ||
    fail "features computed after discarding a $kind .partial differ from the reference"
  echo "ok: a $kind .partial is discarded and every chunk recomputed"
done
echo "all resume checks passed"
