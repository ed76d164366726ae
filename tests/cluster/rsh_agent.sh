#!/usr/bin/env bash
# Plays ssh for mpirun (--mca plm_rsh_agent) on the namespace hosts of tests/cluster/hosts.sh:
#   rsh_agent.sh [ssh options] HOST WORD...
# Drops ssh-style options, then runs the remaining words as one shell command on HOST (as ssh does: the
# words are joined with spaces and handed to the remote shell). A host name is its namespace's name.
set -euo pipefail
while [ $# -gt 0 ]; do
  case "$1" in
    -o | -p | -l | -i | -F) shift 2 ;; # options with a value
    -*) shift ;;
    *) break ;;
  esac
done
host=${1:?usage: rsh_agent.sh [options] HOST COMMAND...}
shift
exec "$(dirname "$0")/hosts.sh" exec "$host" /bin/sh -c "$*"
