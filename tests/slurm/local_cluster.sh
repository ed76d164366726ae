#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, in a scratch folder, for tests and the local demo.
#   tests/slurm/local_cluster.sh install          install Slurm + munge from Debian if missing (root)
#   tests/slurm/local_cluster.sh start DIR [CPUS] start munged, slurmctld and slurmd with state in DIR
#   tests/slurm/local_cluster.sh stop DIR         stop the daemons started in DIR and wait for them to exit
#   tests/slurm/local_cluster.sh env DIR          print `export SLURM_CONF=...` for clients
#   tests/slurm/local_cluster.sh munge-start DIR  only munged, socket DIR/munge/munge.socket (tests/cluster)
#   tests/slurm/local_cluster.sh munge-stop DIR   stop that munged
#   tests/slurm/local_cluster.sh conf-common DIR  print the slurm.conf lines every test cluster shares
# Everything (config, spool, state, logs, munge socket and pid files) lives in DIR, so the cluster never
# touches /etc/slurm or a munged the machine may already run. Ports are picked free at start.
# CPUS (default: the machine's) is what the node declares; more than the machine has needs
# SlurmdParameters=config_overrides, which is set, so 8 ranks can run oversubscribed on 2 cores.
set -euo pipefail

cmd=${1:?usage: local_cluster.sh install|start DIR [CPUS]|stop DIR|env DIR}

install_slurm() {
  local need=()
  for exe in slurmctld slurmd sbatch munged; do command -v "$exe" >/dev/null 2>&1 || need+=("$exe"); done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "local_cluster: missing ${need[*]} and cannot install them (needs root and apt-get)" >&2
    return 1
  fi
  echo "local_cluster: installing slurmctld slurmd slurm-client munge from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 ||
    {
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge
    }
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds for process $1 to exit.
wait_gone() {
  local pid=$1 limit=$2
  [ -n "$pid" ] || return 0
  for _ in $(seq $((limit * 5))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  return 1
}

# munged as the munge user, with its own socket DIR/munge/munge.socket (it refuses root-owned logs and loose
# modes). Also used alone by tests/cluster (its multi-host cluster runs munged in the root namespace).
start_munge() {
  local dir=$1
  local key=/etc/munge/munge.key
  if [ ! -s "$key" ]; then
    mkdir -p "$dir/munge-key"
    key=$dir/munge-key/munge.key
    dd if=/dev/urandom of="$key" bs=1 count=128 status=none
    chown -R munge:munge "$dir/munge-key"
    chmod 700 "$dir/munge-key"
    chmod 400 "$key"
  fi
  mkdir -p "$dir/munge"
  chown munge:munge "$dir/munge"
  chmod 755 "$dir/munge"
  runuser -u munge -- munged --socket="$dir/munge/munge.socket" --key-file="$key" \
    --log-file="$dir/munge/munged.log" --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed"
  munge -n --socket="$dir/munge/munge.socket" | unmunge --socket="$dir/munge/munge.socket" >/dev/null
}

stop_munge() {
  local dir=$1 munged
  munged=$(cat "$dir/munge/munged.pid" 2>/dev/null || true)
  if [ -n "$munged" ]; then
    kill -TERM "$munged" 2>/dev/null || true
    wait_gone "$munged" 10 || kill -KILL "$munged" 2>/dev/null || true
  fi
  rm -f "$dir/munge/munged.pid"
}

# The settings every deepvox test cluster shares (this one and tests/cluster/slurm_hosts.sh): root daemons,
# munge through DIR's private socket, PMIx, no cgroups, no accounting, afterok chains cancelled when a job
# fails, fast scheduling. Printed for DIR (the munge socket's folder).
common_conf() {
  local dir=$1
  cat <<EOF
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
DependencyParameters=kill_invalid_depend
SchedulerParameters=sched_interval=5,batch_sched_delay=0
SlurmdParameters=config_overrides
# A node that registers again after being down (restarted slurmd) returns to service by itself.
ReturnToService=2
SlurmctldTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
EOF
}

start_cluster() {
  local dir=$1 cpus=${2:-$(nproc)}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local host mem ctld_port slurmd_port
  host=$(hostname -s)
  # The node's memory, less a little, so jobs asking for --mem fit.
  mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  mkdir -p "$dir"/{state,spool,log,tmp}

  start_munge "$dir"

  cat >"$dir/slurm.conf" <<EOF
# Generated by tests/slurm/local_cluster.sh: a one-node cluster on localhost.
ClusterName=deepvox-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
$(common_conf "$dir")
SlurmdTimeout=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  # The node turns idle within seconds once slurmd registers.
  for _ in $(seq 100); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; then
      echo "local_cluster: $host idle with $cpus CPUs (SLURM_CONF=$SLURM_CONF)"
      return 0
    fi
    sleep 0.3
  done
  echo "local_cluster: the node did not become idle; logs follow" >&2
  sinfo -N >&2 || true
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  return 1
}

stop_cluster() {
  local dir=$1
  [ -d "$dir" ] || return 0
  export SLURM_CONF=$dir/slurm.conf
  # Read the pids first: the daemons remove their pid files while exiting.
  local ctld slurmd
  ctld=$(cat "$dir/slurmctld.pid" 2>/dev/null || true)
  slurmd=$(cat "$dir/slurmd.pid" 2>/dev/null || true)
  # Cancel what is left so slurmd has no steps to wait for.
  if [ -n "$ctld" ]; then timeout 10 scancel --quiet --user=root 2>/dev/null || true; fi
  local pid
  for pid in $slurmd $ctld; do kill -TERM "$pid" 2>/dev/null || true; done
  # slurmd can take tens of seconds after cancelled jobs; after 60 s it gets SIGKILL.
  for pid in $slurmd $ctld; do wait_gone "$pid" 60 || kill -KILL "$pid" 2>/dev/null || true; done
  stop_munge "$dir"
  rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid"
}

case "$cmd" in
  install) install_slurm ;;
  start) start_cluster "${2:?start needs DIR}" "${3:-}" ;;
  stop) stop_cluster "${2:?stop needs DIR}" ;;
  munge-start) start_munge "$(mkdir -p "${2:?munge-start needs DIR}" && cd "$2" && pwd)" ;;
  munge-stop) stop_munge "${2:?munge-stop needs DIR}" ;;
  conf-common) common_conf "$(cd "${2:?conf-common needs DIR}" && pwd)" ;;
  env) echo "export SLURM_CONF=$(cd "${2:?env needs DIR}" && pwd)/slurm.conf" ;;
  *)
    echo "usage: local_cluster.sh install|start DIR [CPUS]|stop DIR|env DIR|munge-start DIR|munge-stop DIR" >&2
    exit 2
    ;;
esac
