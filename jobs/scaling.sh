#!/usr/bin/env bash
# Strong and weak scaling of one stage: runs it at several rank counts and records wall time, per-phase
# time (from the stage's log) and peak RSS per rank into a CSV (plotted by analysis/report.py --scaling).
#   jobs/scaling.sh STAGE CONFIG [deepvox options...]        STAGE: extract (images) or fit (voxels)
# The stage's inputs must already be in the config's run_dir (run the stages before it first): extract
# reads run_dir/stimuli/manifest.csv (or IMAGES), fit reads responses.h5 and features.h5. Each run gets
# its own folder under SCALING_DIR with a subset of the inputs, so the source run_dir is never written.
# Environment:
#   RANKS_LIST   rank counts ("1 2 4 8"); more ranks than cores are oversubscribed (correct, not fast)
#   MODES        "strong weak"; strong: STRONG_ITEMS items in total; weak: WEAK_ITEMS items per rank
#   STRONG_ITEMS default: all the input, capped at 128 images (extract) / every voxel (fit); for fit, more
#                voxels than responses.h5 has repeats its voxels (the cost depends on the count only)
#   WEAK_ITEMS   default: STRONG_ITEMS / the largest rank count
#   REPEATS (1), THREADS (1: threads per rank), IMAGES (extract manifest), DEEPVOX (the binary),
#   SCALING_DIR (runs/scaling-STAGE), OUT (SCALING_DIR/scaling.csv; rows are appended)
# Inside a Slurm allocation the runs use srun (jobs/run_stage.sh decides), so it also works as a batch job.
set -euo pipefail
stage=${1:?usage: scaling.sh STAGE CONFIG [options...]}
config=${2:?usage: scaling.sh STAGE CONFIG [options...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
exe=${DEEPVOX:-$root/build/deepvox}
py=/usr/bin/python3
[ -x "$exe" ] || { echo "scaling: $exe not built" >&2; exit 1; }
case "$stage" in
  extract | fit) ;;
  *) echo "scaling: STAGE must be extract or fit, got '$stage'" >&2 && exit 2 ;;
esac

# The source run_dir as the config resolves it (top-level key of `deepvox config`).
src=$("$exe" config --config "$config" "$@" | awk -F': *' '/^run_dir:/ {print $2; exit}')
if ! src=$(cd "$src" 2>/dev/null && pwd); then
  echo "scaling: run_dir of $config does not exist; run the stages before $stage first" >&2
  exit 1
fi
ranks_list=${RANKS_LIST:-1 2 4 8}
modes=${MODES:-strong weak}
repeats=${REPEATS:-1}
threads=${THREADS:-1}
scratch=${SCALING_DIR:-runs/scaling-$stage}
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
out=${OUT:-$scratch/scaling.csv}
available=$("$py" "$here/scaling_tool.py" count "$stage" "$src" "${IMAGES:-}")
# shellcheck disable=SC2086 # a list of numbers
max_ranks=$(printf '%s\n' $ranks_list | sort -n | tail -1)
default_items=$available
[ "$stage" = extract ] && [ "$available" -gt 128 ] && default_items=128
strong_items=${STRONG_ITEMS:-$default_items}
weak_items=${WEAK_ITEMS:-$((strong_items / max_ranks))}
cpus=$(nproc)
echo "scaling $stage: ranks {$ranks_list}, modes {$modes}, strong $strong_items items," \
  "weak $weak_items per rank," \
  "$threads thread(s) per rank, $cpus CPUs on $(hostname) -> $out"

for mode in $modes; do
  for ranks in $ranks_list; do
    items=$([ "$mode" = strong ] && echo "$strong_items" || echo $((weak_items * ranks)))
    for repeat in $(seq 0 $((repeats - 1))); do
      dir=$scratch/$mode-$ranks-$repeat
      rm -rf "$dir"
      mkdir -p "$dir/rss"
      mapfile -t extra < <("$py" "$here/scaling_tool.py" inputs "$stage" "$src" "$dir" "$items" "${IMAGES:-}")
      load=$(cut -d' ' -f1 /proc/loadavg) # other work on the machine skews wall times: recorded with them
      start=$(date +%s.%N)
      set +e
      SCALING_EXE=$exe SCALING_RSS_DIR=$dir/rss DEEPVOX=$here/scaling_rank.py RANKS=$ranks THREADS=$threads \
        "$here/run_stage.sh" "$stage" "$config" "$@" --set run_dir="$dir" --set resume=false \
        ${extra[@]+"${extra[@]}"} \
        >"$dir/log.txt" 2>&1
      rc=$?
      set -e
      end=$(date +%s.%N)
      if [ $rc -ne 0 ]; then
        echo "scaling: $stage at $ranks ranks failed (exit $rc); log follows" >&2
        tail -n 30 "$dir/log.txt" >&2
        exit $rc
      fi
      wall=$("$py" -c "print(round($end - $start, 3))")
      "$py" "$here/scaling_tool.py" record "$out" "$dir/log.txt" "$dir/rss" stage="$stage" mode="$mode" \
        ranks="$ranks" threads="$threads" work="$items" repeat="$repeat" wall_s="$wall" host="$(hostname)" \
        cpus="$cpus" load_before="$load"
      # Keep the logs, drop the (possibly large) outputs.
      find "$dir" -name '*.h5' -type f -delete
    done
  done
done
echo "scaling: wrote $out"
