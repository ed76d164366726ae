#!/usr/bin/env bash
# Fit killed midway resumes from its cross-validation record and gives the same bytes (issue 9).
#   tests/resume/test_resume_fit.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# On the ci run's features and responses, with per-layer fits (3 folds: 3 tasks for the model, then 3 per
# layer), at 2 ranks:
# 1. an uninterrupted run gives the reference model.h5;
# 2. debug.kill_after_chunks SIGKILLs rank 1 after 2 recorded tasks (inside the model's cross-validation), and
#    after 5 (the model done, inside the first per-layer fit). Each kill must leave a .partial and no model.h5;
#    the rerun, at 1 rank, must say how many tasks it skipped and write a model.h5 whose every dataset equals
#    the reference byte for byte (the resume record is gone from it).
set -euo pipefail
exe=${1:?usage: test_resume_fit.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
ref=${2:?usage: test_resume_fit.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_resume_fit.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
[ -f "$ref/model.h5" ] || skip "no reference run with model.h5 in $ref"
ref=$(cd "$ref" && pwd)
work=$(empty_dir "$work")
fit() { # RUN_DIR RANKS [options]: fit on copies of the reference inputs, with per-layer fits
  local run_dir=$1 ranks=$2
  shift 2
  DEEPVOX=$exe RANKS=$ranks THREADS=1 "$root/jobs/run_stage.sh" fit "$ref/config.yaml" --set run_dir="$run_dir" \
    --set progress=never --set fit.per_layer=true "$@"
}
inputs() { mkdir -p "$1" && cp "$ref/features.h5" "$ref/responses.h5" "$1/"; }

inputs "$work/reference"
fit "$work/reference" 2 >"$work/reference.log" 2>&1 || { cat "$work/reference.log" >&2; fail "the reference fit failed"; }

for kill_after in 2 5; do
  run=$work/killed_$kill_after
  inputs "$run"
  if fit "$run" 2 --set debug.kill_after_chunks=$kill_after >"$run.killed.log" 2>&1; then
    fail "fit with rank 1 killed after $kill_after tasks exited 0"
  fi
  [ -f "$run/model.h5.partial" ] || fail "the killed fit left no model.h5.partial"
  [ ! -e "$run/model.h5" ] || fail "the killed fit left a model.h5"
  fit "$run" 1 >"$run.resumed.log" 2>&1 || { cat "$run.resumed.log" >&2; fail "the resumed fit failed"; }
  grep -q "fit: resuming" "$run.resumed.log" || fail "the rerun after $kill_after tasks did not resume"
  if [ $kill_after = 2 ]; then
    grep -q "resuming: 2 of 3 cross-validation tasks were done" "$run.resumed.log" ||
      fail "the rerun did not skip the 2 recorded tasks"
  else
    grep -q "resuming: 3 of 3 cross-validation tasks were done" "$run.resumed.log" ||
      fail "the rerun did not skip the model's cross-validation"
    grep -q "resuming: 2 of 3 cross-validation tasks were done" "$run.resumed.log" ||
      fail "the rerun did not skip the first per-layer fit's 2 recorded tasks"
  fi
  /usr/bin/python3 "$root/tests/resume/compare_runs.py" "$work/reference" "$run" model.h5 ||
    fail "model.h5 resumed after $kill_after tasks differs from the uninterrupted run"
  echo "ok: killed after $kill_after recorded tasks (2 ranks), resumed at 1 rank, bit-identical model.h5"
done
echo "all fit resume checks passed"
