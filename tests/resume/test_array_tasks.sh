#!/usr/bin/env bash
# Job arrays (issue 9): maximize, explain and reconstruct split into array tasks give the reference's bytes.
#   tests/resume/test_array_tasks.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# For each stage, in a copy of the reference run: array task 0 of 3 at 1 rank and task 2 of 3 at 2 ranks (a
# task with no chunks on the ci data) save chunk files and write no stage file; task 1 never runs, as if it
# had failed. The normal run then loads the saved chunks, computes the missing one, writes STAGE.h5
# bit-identical to the reference (compare_runs.py) and removes the chunk folder. Also: an out-of-range
# array.task and array.tasks on a stage without targets fail with a message.
set -euo pipefail
exe=${1:?usage: test_array_tasks.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
ref=${2:?usage: test_array_tasks.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_array_tasks.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
[ -s "$ref/stages.txt" ] || skip "no reference run in $ref (the ci_reference_run fixture skipped)"
ref=$(cd "$ref" && pwd)

work=$(empty_dir "$work")
cp -r "$ref"/. "$work"/
cd "$work"
stage_run() {  # RANKS STAGE [options]: one run through jobs/run_stage.sh, log in $work/logs
  local ranks=$1 stage=$2
  shift 2
  DEEPVOX=$exe RANKS=$ranks THREADS=1 "$root/jobs/run_stage.sh" "$stage" "$work/config.yaml" \
    --set run_dir="$work" --set progress=never "$@" >>"$work/logs/array-$stage.log" 2>&1
}

tested=0
for stage in maximize explain reconstruct; do
  case " $(cat "$ref/stages.txt") " in *" $stage "*) ;; *) continue ;; esac
  rm -f "$work/$stage.h5"
  stage_run 1 "$stage" --set array.tasks=3 --set array.task=0 || fail "$stage array task 0 failed (logs/array-$stage.log)"
  stage_run 2 "$stage" --set array.tasks=3 --set array.task=2 || fail "$stage array task 2 failed"
  [ -e "$work/$stage.h5" ] && fail "an array task of $stage wrote $stage.h5"
  [ -e "$work/$stage.h5.partial" ] && fail "an array task of $stage wrote $stage.h5.partial"
  saved=$(find "$work/$stage.chunks" -name 'chunk-*.h5' | wc -l)
  [ "$saved" -ge 1 ] || fail "$stage: array task 0 saved no chunk files"
  ls "$work/$stage.chunks" | grep -q tmp && fail "$stage: temporary chunk files left"
  stage_run 2 "$stage" || fail "$stage: the collecting run failed"
  /usr/bin/python3 "$root/tests/resume/compare_runs.py" "$ref" "$work" "$stage.h5" ||
    fail "$stage from array tasks differs from the reference"
  [ -e "$work/$stage.chunks" ] && fail "$stage: the chunk folder was not removed after the stage file was written"
  echo "array tasks: $stage OK ($saved chunk file(s) saved by task 0, the rest computed by the final run)"
  tested=$((tested + 1))
done
[ "$tested" -gt 0 ] || skip "none of maximize, explain, reconstruct is in the reference run"

# Bad input: a task index outside the array, and an array on a stage without independent targets.
if stage_run 1 maximize --set array.tasks=2 --set array.task=2; then fail "array.task 2 of 2 was accepted"; fi
grep -q "array.task 2 is outside 0..1" "$work/logs/array-maximize.log" || fail "no message for array.task 2 of 2"
if stage_run 1 fit --set array.tasks=2; then fail "array.tasks on fit was accepted"; fi
grep -q "array.tasks applies to maximize, explain and reconstruct" "$work/logs/array-fit.log" ||
  fail "no message for array.tasks on fit"
echo "array tasks: OK"
