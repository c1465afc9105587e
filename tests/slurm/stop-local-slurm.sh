#!/usr/bin/env bash
# Tear down the cluster made by start-local-slurm.sh: cancel jobs, stop the daemons
# (by the PIDs in their pid files only), then delete all runtime state so that the
# next start is from scratch. --keep-state: only stop. Idempotent; packages stay installed.
set -uo pipefail
B=${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/mixfit-slurm}
export SLURM_CONF=$B/etc/slurm.conf
log() { echo "[stop-local-slurm $(date +%T)] $*"; }
# alive PIDFILE COMM: pid exists, is COMM (not recycled) and is not a zombie (PID 1 here may reap late)
alive() { [ -s "$1" ] && p=$(cat "$1") && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ] &&
          [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]; }
gone() { [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
stop() {  # stop PIDFILE COMM: SIGTERM, wait up to 20 s, then SIGKILL
  alive "$1" "$2" || { rm -f "$1"; return 0; }
  local p; p=$(cat "$1"); log "stopping $2 (pid $p)"; kill -TERM "$p" 2>/dev/null
  for _ in $(seq 100); do gone "$p" && break; sleep 0.2; done
  gone "$p" || { log "$2 still alive, SIGKILL"; kill -KILL "$p" 2>/dev/null; sleep 0.5; }
  rm -f "$1"
}

if [ -f "$SLURM_CONF" ] && alive "$B/run/slurmctld.pid" slurmctld && command -v scancel >/dev/null; then
  if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    log "cancelling all jobs"; scancel --full $(squeue -h -o %i) 2>/dev/null
    for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi
stop "$B/run/slurmd.pid" slurmd
stop "$B/run/slurmctld.pid" slurmctld
stop "$B/run/slurmdbd.pid" slurmdbd
stop "$B/mysql/mysqld.pid" mariadbd
stop "$B/munge/munged.pid" munged

if [ "${1:-}" != "--keep-state" ]; then
  log "removing runtime state under $B"
  rm -rf "$B"/etc "$B"/state "$B"/spool "$B"/log "$B"/run "$B"/munge "$B"/mysql "$B"/env.sh "$B"/apt.log
fi
log "done"
