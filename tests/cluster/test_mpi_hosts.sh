#!/usr/bin/env bash
# MPI across hosts: the ci pipeline's import, extract and fit with one rank on each of 3 namespace hosts.
#   tests/cluster/test_mpi_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR
# 1. Creates hosts dvxm-node1..3 (tests/cluster/hosts.sh, 10.78.1.0/24) and runs each stage through
#    jobs/run_stage.sh on dvxm-node1: mpirun with a hostfile of the 3 hosts and tests/cluster/rsh_agent.sh as
#    its ssh, one rank per host, TCP only. The stage files must be bit-identical to the reference run
#    (tests/resume/ci_run.sh: one host, 2 ranks), and the veth byte counters must show the traffic between
#    the hosts.
# 2. Extract again, and after KILL_AFTER (3) chunks SIGKILL the rank on dvxm-node2: mpirun must exit
#    non-zero within KILL_LIMIT (15) seconds, name dvxm-node2, leave no rank behind and no features.h5
#    (only the .partial).
# Everything (ranks, namespaces, veths, bridge, hosts files) is removed on exit, also on failure (trap).
set -euo pipefail
exe=$(cd "$(dirname "${1:?usage: test_mpi_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}")" && pwd)/$(basename "$1")
ref=${2:?usage: test_mpi_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
work=${3:?usage: test_mpi_hosts.sh DEEPVOX REFERENCE_RUN_DIR WORK_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/resume/lib.sh
source "$root/tests/resume/lib.sh"
hosts=$root/tests/cluster/hosts.sh
compare=$root/tests/resume/compare_runs.py
name=dvxm
subnet=10.78.1
n=3
kill_after=${KILL_AFTER:-3}
kill_limit=${KILL_LIMIT:-15}

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v mpirun >/dev/null 2>&1 || skip "no mpirun"
ref=$(cd "$ref" 2>/dev/null && pwd) || skip "no reference run in $2 (the ci_reference_run fixture skipped)"
if [ ! -f "$ref/features.h5" ] || [ ! -f "$ref/model.h5" ]; then
  skip "the reference run has no features.h5 and model.h5 (extract or fit not built)"
fi
"$hosts" probe || skip "cannot make network namespaces, veths and a bridge here"

work=$(empty_dir "$work")
# Long commands run in the background while the script waits for them (`wait` returns as soon as a signal
# arrives, a foreground command would delay the trap until it ends); the trap then stops them.
launcher=""
cleanup() {
  local rc=$? pid
  if [ -n "$launcher" ]; then
    for pid in $(descendants "$launcher") $launcher; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  "$hosts" down "$name" || true
  # OpenMPI's per-host session directories (/tmp/ompi.HOST.UID) of ranks that were killed.
  rm -rf /tmp/ompi."$name"-node*
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(date +%s)
"$hosts" up "$name" "$n" "$subnet"
for k in $(seq "$n"); do echo "$name-node$k slots=1"; done >"$work/hostfile"

# A stage on the hosts: mpirun starts on node1 and reaches the others through the rsh agent. Everything
# mpirun needs beyond jobs/run_stage.sh comes as OMPI_MCA_* variables (mpirun passes them to the remote
# daemons): the hosts, TCP on the private subnet only, no core binding (every host shares the same two
# cores). yield_when_idle: the 3 "hosts" share 2 cores, and a rank busy-polling for a message takes the
# core from the rank that would send it (fit took 13 s instead of 0.7 s; a real cluster does not need it,
# and mpirun sets it by itself when it knows a host is oversubscribed). No one-sided MPI setting is
# needed: deepvox's progress counter uses an MPI window only when all ranks share one node.
on_hosts() { # on_hosts LOG STAGE [deepvox options...]
  local log=$1 stage=$2
  shift 2
  "$hosts" exec "$name-node1" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_plm_rsh_agent="$root/tests/cluster/rsh_agent.sh" OMPI_MCA_orte_default_hostfile="$work/hostfile" \
    OMPI_MCA_oob_tcp_if_include="$subnet.0/24" OMPI_MCA_btl_tcp_if_include="$subnet.0/24" \
    OMPI_MCA_btl=tcp,self OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=1 \
    DEEPVOX="$exe" RANKS=$n THREADS=1 "$root/jobs/run_stage.sh" "$stage" "$ref/config.yaml" \
    --set progress=never "$@" >"$log" 2>&1
}
# Total bytes each host has sent and received on its link.
traffic() { "$hosts" bytes "$name" | awk '{printf "%s %d %d\n", $1, $2, $3}'; }

# --- 1. import, extract and fit, one rank per host ------------------------------------------------------
before=$(traffic)
for stage in import extract fit; do
  t0=$(date +%s.%N)
  on_hosts "$work/$stage.log" "$stage" --set run_dir="$work/run" &
  launcher=$!
  wait "$launcher" || { tail -n 40 "$work/$stage.log" >&2; fail "$stage across $n hosts failed"; }
  launcher=""
  printf 'ok: %s across %d hosts in %.1f s\n' "$stage" "$n" "$(echo "$(date +%s.%N) - $t0" | bc)"
done
after=$(traffic)
# Each rank logs its host; rank 0 reports the rank count.
grep -q "rank 0/$n $name-node1" "$work/extract.log" || fail "extract did not run as $n ranks from $name-node1"
/usr/bin/python3 "$compare" "$ref" "$work/run" responses.h5 truth.h5 features.h5 model.h5 ||
  fail "the stages across hosts differ from the single-host reference run"
echo "ok: responses.h5 truth.h5 features.h5 model.h5 across $n hosts are bit-identical to one host at 2 ranks"
echo "bytes on each host's link during import+extract+fit (sent, received):"
join <(echo "$before") <(echo "$after") | while read -r host s0 r0 s1 r1; do
  printf '  %s sent %d received %d\n' "$host" $((s1 - s0)) $((r1 - r0))
  # Ranks 1 and 2 send their results to the other hosts (collective I/O, reductions): at least 100 kB.
  if [ "$host" != "$name-node1" ] && [ $((s1 - s0)) -lt 100000 ]; then
    fail "$host sent only $((s1 - s0)) bytes: the ranks did not talk over the network"
  fi
done
# The namespaces cannot reach anything else: no default route, only their /24 and loopback.
for k in $(seq "$n"); do
  routes=$("$hosts" exec "$name-node$k" ip -4 route show)
  [ "$routes" = "$subnet.0/24 dev eth0 proto kernel scope link src $subnet.$k " ] ||
    [ "$routes" = "$subnet.0/24 dev eth0 proto kernel scope link src $subnet.$k" ] ||
    fail "$name-node$k has routes beyond its /24: $routes"
done

# --- 2. a rank killed on another host ------------------------------------------------------------------
partial=$work/kill/features.h5.partial
on_hosts "$work/kill.log" extract --set run_dir="$work/kill" --set extract.images="$ref/stimuli/manifest.csv" &
launcher=$!
counts="0 0"
for _ in $(seq 600); do # 2.5 minutes at most
  if [ -f "$partial" ]; then
    counts=$(chunks_done "$partial")
    [ "${counts%% *}" != "?" ] && [ "${counts%% *}" -ge "$kill_after" ] && break
  fi
  kill -0 "$launcher" 2>/dev/null || { cat "$work/kill.log" >&2; fail "extract ended before the kill"; }
  sleep 0.25
done
victim=""
for pid in $("$hosts" pids "$name-node2"); do
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" == "$exe extract "* ]] && victim=$pid
done
[ -n "$victim" ] || fail "no extract rank found on $name-node2"
kill -KILL "$victim"
t_kill=$(date +%s.%N)
echo "killed the rank on $name-node2 (pid $victim) with $counts chunks recorded"
# mpirun must end by itself; the deadline only keeps a hang from blocking the test.
for _ in $(seq $((kill_limit * 10))); do
  kill -0 "$launcher" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$launcher" 2>/dev/null; then fail "mpirun still runs $kill_limit s after a rank was killed"; fi
set +e
wait "$launcher"
rc=$?
set -e
launcher=""
detect=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t_kill" | bc)")
[ $rc -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
grep -q "on node $name-node2" "$work/kill.log" || { cat "$work/kill.log" >&2; fail "the error does not name $name-node2"; }
echo "mpirun's message: $(grep -m1 "on node $name-node2" "$work/kill.log" | sed 's/^ *//')"
[ ! -e "$work/kill/features.h5" ] || fail "the killed run left a complete-looking features.h5"
# The daemons and ranks on the other hosts end with mpirun (give them a few seconds).
left=""
for _ in $(seq 50); do
  left=$(for k in $(seq "$n"); do "$hosts" pids "$name-node$k"; done)
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] || fail "processes left on the hosts after mpirun exited: $(echo "$left" | tr '\n' ' ')"
what="nothing"
[ ! -f "$partial" ] || what="only features.h5.partial"
echo "ok: killed rank on $name-node2: mpirun exited $rc after $detect s naming the host, no process left," \
  "$what in the run directory"
echo "all multi-host MPI checks passed in $(($(date +%s) - t_start)) s"
