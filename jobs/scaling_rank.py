#!/usr/bin/python3
"""Runs one MPI rank of a scaling run and records its peak resident memory.

jobs/scaling.sh points DEEPVOX (the binary jobs/run_stage.sh launches) at this wrapper, so every rank runs
  scaling_rank.py deepvox STAGE ...
and writes its peak RSS in KiB and its CPU seconds (user + system; getrusage of the child, the numbers
/usr/bin/time -v reports) to $SCALING_RSS_DIR/rank-<rank>. The rank comes from OpenMPI (mpirun) or
PMIx (srun --mpi=pmix)."""
import os
import resource
import signal
import subprocess
import sys


def main():
    exe = os.environ.get("SCALING_EXE")
    if not exe:
        print("scaling_rank.py: SCALING_EXE (the deepvox binary) is not set", file=sys.stderr)
        return 2
    child = subprocess.Popen([exe, *sys.argv[1:]])
    # Pass termination on, so a stopped scaling run stops its ranks.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    rc = child.wait()
    names = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")
    rank = next((os.environ[k] for k in names if k in os.environ), "0")
    folder = os.environ.get("SCALING_RSS_DIR")
    if folder:
        with open(os.path.join(folder, f"rank-{rank}"), "w") as fh:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            fh.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f}\n")
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
