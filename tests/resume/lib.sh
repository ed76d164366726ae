# shellcheck shell=bash
# Shared by the resume and Slurm tests (sourced). CTest treats exit code 77 as "skipped" (SKIP_RETURN_CODE).

skip() {
  echo "SKIP: $*"
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Empties DIR (creating it) and prints its absolute path: work=$(empty_dir "$work").
empty_dir() {
  rm -rf "$1"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# Every stage the binary has built, in pipeline order (the `Stages` block of `deepvox --help`).
built_stages() {
  "$1" --help | awk '/^Stages/{s=1;next} /^$/{s=0} s && !/not built/ && $1 != "pipeline" {printf "%s ", $1}'
}

# Number of chunks a stage file records as done (HDF5 1.10 opens a file another process writes; a torn
# read is retried, and "?" is printed while the file cannot be read at all).
chunks_done() {
  HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 - "$1" <<'EOF'
import sys, time
import h5py
for attempt in range(5):
    try:
        with h5py.File(sys.argv[1], "r") as f:
            done = f["chunks/done"][()]
        print(int(done.sum()), len(done))
        sys.exit(0)
    except Exception:
        time.sleep(0.05)
print("? ?")
EOF
}

# All processes below pid $1 (children first), for cleanup of an mpirun and its ranks.
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do
    descendants "$child"
    echo "$child"
  done
}

# --- Slurm job helpers (tests/slurm and tests/cluster) ------------------------------------------------------
# Slurm clients run through slurm_client; tests/cluster redefines it to reach its cluster's namespace.
slurm_client() { "$@"; }
# One field (JobState, Restarts, ExitCode, NodeList, Reason...) of `scontrol show job` (a line per task of
# an array job).
job_field() {
  slurm_client scontrol show job -o "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print substr($0, length(k) + 2)}'
}
final_state() { case "$1" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL) return 0 ;; esac; return 1; }
# Waits until job $1 is in a final state (or $2 seconds pass) and prints that state.
wait_job() {
  local id=$1 limit=$2 state=""
  for _ in $(seq $((limit * 2))); do
    state=$(job_field "$id" JobState)
    if final_state "$state"; then
      echo "$state"
      return 0
    fi
    sleep 0.5
  done
  echo "TIMEOUT_WAITING($state)"
}
# Waits until the .partial $1 of running job $2 records at least $3 chunks (at most $4 s); prints "done total".
wait_chunks() {
  local partial=$1 id=$2 min=$3 limit=$4 counts state
  for _ in $(seq $((limit * 4))); do
    if [ -f "$partial" ]; then
      counts=$(chunks_done "$partial")
      if [ "${counts%% *}" != "?" ] && [ "${counts%% *}" -ge "$min" ]; then
        echo "$counts"
        return 0
      fi
    fi
    state=$(job_field "$id" JobState)
    final_state "$state" && fail "job $id ended ($state) before $min chunks were done"
    sleep 0.25
  done
  fail "job $id did not record $min chunks within $limit s"
}
