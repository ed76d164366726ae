#!/usr/bin/env bash
# The reference run of the tiny ci pipeline that the resume, Slurm and report tests compare against.
#   tests/resume/ci_run.sh DEEPVOX RUN_DIR
# Runs every stage the binary has built (or DEEPVOX_CI_STAGES), in pipeline order, each through
# jobs/run_stage.sh with mpirun at 2 ranks x 1 thread, into a fresh RUN_DIR, with configs/ci.yaml (or
# DEEPVOX_CI_CONFIG). Writes RUN_DIR/stages.txt (the stages run), RUN_DIR/config.yaml (the config used,
# which the tests comparing against this run use too) and RUN_DIR/logs/STAGE.log.
set -euo pipefail
exe=${1:?usage: ci_run.sh DEEPVOX RUN_DIR}
run_dir=${2:?usage: ci_run.sh DEEPVOX RUN_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
stages=${DEEPVOX_CI_STAGES:-$(built_stages "$exe")}
case " $stages " in
  *" import "*) ;;
  *) skip "the import stage is not built, so there is no ci run to test" ;;
esac

rm -rf "$run_dir"
mkdir -p "$run_dir/logs"
run_dir=$(cd "$run_dir" && pwd)
echo "$stages" >"$run_dir/stages.txt"
cp "${DEEPVOX_CI_CONFIG:-$root/configs/ci.yaml}" "$run_dir/config.yaml"
for stage in $stages; do
  t0=$(date +%s)
  if ! DEEPVOX=$exe RANKS=2 THREADS=1 "$root/jobs/run_stage.sh" "$stage" "$run_dir/config.yaml" \
    --set run_dir="$run_dir" --set progress=never >"$run_dir/logs/$stage.log" 2>&1; then
    echo "ci_run: $stage failed; its log follows" >&2
    tail -n 40 "$run_dir/logs/$stage.log" >&2
    exit 1
  fi
  echo "ci_run: $stage done in $(($(date +%s) - t0)) s"
done
