#!/usr/bin/env bash
# Several "hosts" on one machine for multi-node tests: each host is a network namespace (own addresses,
# ports and routes) entered together with its own UTS namespace (own hostname) and a private /etc/hosts.
#   hosts.sh probe                      exit 0 when namespaces, veths and bridges can be made here (root)
#   hosts.sh up NAME N SUBNET [ctl]     hosts NAME-node1..NAME-nodeN at SUBNET.1..N (SUBNET: three octets,
#                                       e.g. 10.78.1), and NAME-ctl at SUBNET.100 when "ctl" is given
#   hosts.sh exec HOST CMD...           run CMD on HOST (its netns, hostname HOST, its hosts file)
#   hosts.sh pids HOST                  the processes running on HOST
#   hosts.sh crash HOST                 node loss: unplug HOST's link (no FIN/RST reaches anyone), then
#                                       SIGKILL every process on it
#   hosts.sh revive HOST                plug HOST's link back in (its daemons must be restarted)
#   hosts.sh bytes NAME                 "HOST rx_bytes tx_bytes" for every host, seen from the bridge port
#   hosts.sh down NAME                  tear everything down: processes, namespaces, veths, bridge, files
# Layout: a bridge NAME-br in the root namespace without any address, one veth pair per host (NAME-vK on
# the bridge, eth0 inside). The namespaces have no default route, and a blackhole route for SUBNET.0/24 in
# the root namespace keeps a stray packet to these addresses from the root namespace from leaving through
# the real default route: all traffic stays between these namespaces (and their loopbacks).
# NAME is a short prefix (at most 8 characters: interface names are limited to 15).
set -euo pipefail

ns_dir=/run/netns

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

# The namespaces, veths and hosts files of NAME (whatever exists, so `down` also cleans half-built setups).
namespaces_of() { ip netns list 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1 {print $1}'; }

# Kills every process in namespace $1: TERM, then KILL whatever is left after $2 seconds.
kill_namespace() {
  local ns=$1 grace=$2 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086 # one argument per pid
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq $((grace * 5))); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && return 0
    sleep 0.2
  done
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  for _ in $(seq 25); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && return 0
    sleep 0.2
  done
  echo "hosts: processes still in $ns: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')" >&2
}

down() {
  local name=$1 ns subnet
  # Daemons and every other process first: a namespace with a process inside survives `ip netns del`.
  for ns in $(namespaces_of "$name"); do kill_namespace "$ns" 5; done
  for ns in $(namespaces_of "$name"); do ip netns del "$ns" 2>/dev/null || true; done
  # Deleting a namespace deletes its veth end and with it the peer; delete leftovers explicitly anyway.
  ip -o link show 2>/dev/null | awk -F': ' -v p="$name-v" 'index($2, p) == 1 {sub(/@.*/, "", $2); print $2}' |
    while read -r dev; do ip link del "$dev" 2>/dev/null || true; done
  ip link del "$name-br" 2>/dev/null || true
  subnet=$(cat "/etc/netns/.dvx-$name.subnet" 2>/dev/null || true)
  [ -z "$subnet" ] || ip route del blackhole "$subnet.0/24" 2>/dev/null || true
  rm -rf /etc/netns/"$name"-* "/etc/netns/.dvx-$name.subnet"
  rmdir /etc/netns 2>/dev/null || true
}

# add_host NAME HOST ADDR: namespace HOST with eth0 = ADDR/24, its veth peer NAME-vK on the bridge.
add_host() {
  local name=$1 host=$2 addr=$3 veth=$4
  ip netns add "$host"
  ip link add "$veth" type veth peer name eth0 netns "$host"
  ip link set "$veth" master "$name-br"
  # No IPv6 anywhere here: no router solicitations or other chatter, and the byte counters show MPI only.
  sysctl -q -w "net.ipv6.conf.$veth.disable_ipv6=1" 2>/dev/null || true
  ip link set "$veth" up
  ip netns exec "$host" sh -c "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
    ip link set lo up && ip addr add $addr/24 dev eth0 && ip link set eth0 up"
}

up() {
  local name=$1 n=$2 subnet=$3 ctl=${4:-} k hosts
  [ ${#name} -le 8 ] || { echo "hosts: NAME must be at most 8 characters" >&2; exit 2; }
  down "$name" # leftovers of a run killed hard (no trap runs on SIGKILL)
  mkdir -p /etc/netns
  echo "$subnet" >"/etc/netns/.dvx-$name.subnet"
  ip route add blackhole "$subnet.0/24"
  ip link add "$name-br" type bridge
  sysctl -q -w "net.ipv6.conf.$name-br.disable_ipv6=1" 2>/dev/null || true
  ip link set "$name-br" up
  hosts=$(printf '127.0.0.1 localhost\n')
  for k in $(seq "$n"); do
    add_host "$name" "$name-node$k" "$subnet.$k" "$name-v$k"
    hosts+=$'\n'"$subnet.$k $name-node$k"
  done
  if [ "$ctl" = ctl ]; then
    add_host "$name" "$name-ctl" "$subnet.100" "$name-vc"
    hosts+=$'\n'"$subnet.100 $name-ctl"
  fi
  # Each host resolves every host name from its own file (never the machine's /etc/hosts).
  for ns in $(namespaces_of "$name"); do
    mkdir -p "/etc/netns/$ns"
    printf '%s\n127.0.1.1 %s\n' "$hosts" "$ns" >"/etc/netns/$ns/hosts"
  done
}

# Runs a command on a host: enter its network namespace, then new mount and UTS namespaces in which its
# hosts file is bound over /etc/hosts and the hostname is set. (Not `ip netns exec`: it remounts /sys,
# which hides the cgroup mounts, and slurmd then refuses to start.)
host_exec() {
  local host=$1
  shift
  [ -e "$ns_dir/$host" ] || { echo "hosts: no host $host" >&2; exit 2; }
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
  exec nsenter --net="$ns_dir/$host" unshare --mount --uts --propagation private -- \
    /bin/sh -c 'mount --bind "$1" /etc/hosts && hostname "$2" && shift 2 && exec "$@"' \
    sh "/etc/netns/$host/hosts" "$host" "$@"
}

crash() {
  local host=$1 name=${1%-*}
  ip link set "$name-v${host##*-node}" down
  local pids
  pids=$(ip netns pids "$host" || true)
  # shellcheck disable=SC2086 # one argument per pid
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

revive() {
  local host=$1 name=${1%-*}
  ip link set "$name-v${host##*-node}" up
}

bytes() {
  local name=$1 dev
  for ns in $(namespaces_of "$name"); do
    case "$ns" in *-ctl) dev=$name-vc ;; *) dev=$name-v${ns##*-node} ;; esac
    # Seen from the bridge port: the port receives what the host sends and vice versa.
    echo "$ns $(cat "/sys/class/net/$dev/statistics/tx_bytes") $(cat "/sys/class/net/$dev/statistics/rx_bytes")"
  done
}

probe() {
  [ "$(id -u)" -eq 0 ] || { echo "hosts: not root" >&2; return 1; }
  for exe in ip nsenter unshare; do
    command -v "$exe" >/dev/null 2>&1 || { echo "hosts: $exe is missing" >&2; return 1; }
  done
  local name=dvxp$$
  name=${name:0:8}
  trap 'down "$name" >/dev/null 2>&1' RETURN
  up "$name" 1 10.78.254 >/dev/null 2>&1 || { echo "hosts: cannot create network namespaces here" >&2; return 1; }
  # shellcheck disable=SC2016
  "$0" exec "$name-node1" sh -c '[ "$(hostname)" = "$1" ]' sh "$name-node1" >/dev/null 2>&1 ||
    { echo "hosts: cannot enter a namespace with its own hostname and hosts file here" >&2; return 1; }
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  probe) probe ;;
  up) [ $# -ge 3 ] || usage; up "$@" ;;
  down) [ $# -eq 1 ] || usage; down "$1" ;;
  exec) [ $# -ge 2 ] || usage; host_exec "$@" ;;
  pids) [ $# -eq 1 ] || usage; ip netns pids "$1" ;;
  crash) [ $# -eq 1 ] || usage; crash "$1" ;;
  revive) [ $# -eq 1 ] || usage; revive "$1" ;;
  bytes) [ $# -eq 1 ] || usage; bytes "$1" ;;
  *) usage ;;
esac
