#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A stand-in for build/steadyblk, for testing the bench harness itself before
# (or without) the real daemon: it accepts steadyblk's command line and serves
# with nbdkit instead (file plugin for a file, nbd plugin + retry filter for an
# nbd+unix:// backend).  Its numbers say nothing about steadyblk.
#   STEADYBLK=bench/fake-steadyblk.sh bench/run.sh --runtime 2
set -euo pipefail

pidfile='' export_uri='' backend=''
while (( $# )); do
  case $1 in
    --foreground) shift ;;
    --pidfile) pidfile=$2; shift 2 ;;
    --export)  export_uri=$2; shift 2 ;;
    -*) echo "fake-steadyblk: ignoring option $1" >&2; shift ;;
    *) backend=$1; shift ;;
  esac
done
[[ $export_uri == nbd+unix:///\?socket=* && -n $backend ]] ||
  { echo "usage: $0 --foreground --pidfile P --export nbd+unix:///?socket=S BACKEND" >&2; exit 2; }
sock=${export_uri#*socket=}

# exec keeps this PID, so the harness measures and stops nbdkit itself;
# nbdkit writes the pidfile once it listens, as steadyblk promises to.
if [[ $backend == nbd+unix://* ]]; then
  exec nbdkit -f -U "$sock" ${pidfile:+-P "$pidfile"} --filter=retry nbd "socket=${backend#*socket=}"
else
  exec nbdkit -f -U "$sock" ${pidfile:+-P "$pidfile"} file "$backend"
fi
