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
