#!/usr/bin/env bash
# Bring up a single-node SLURM 22.05 cluster (Debian 12) on this machine, from scratch,
# without systemd. Idempotent: re-running leaves a healthy cluster alone.
# Everything lives under $SLURM_LOCAL_DIR (default $TMPDIR/mixfit-slurm). Needs root.
#   SLURM_LOCAL_DBD=1 (default) also runs MariaDB + slurmdbd so that `sacct` works;
#   SLURM_LOCAL_DBD=0 uses jobcomp/filetxt only (`sacct` fails; `sacct -c` reads the file).
# Afterwards:  source $SLURM_LOCAL_DIR/env.sh   (exports SLURM_CONF)
set -euo pipefail
B=${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/mixfit-slurm}
DBD=${SLURM_LOCAL_DBD:-1}
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}; SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}
DBD_PORT=${SLURM_LOCAL_DBD_PORT:-6819};   MYSQL_PORT=${SLURM_LOCAL_MYSQL_PORT:-3307}
export SLURM_CONF=$B/etc/slurm.conf
SOCK=$B/munge/munge.socket.2
log() { echo "[start-local-slurm $(date +%T)] $*"; }
die() { echo "[start-local-slurm] ERROR: $*" >&2; for f in "$B"/log/*.log "$B"/munge/munged.log "$B"/mysql/mysqld.err; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done; exit 1; }
# running PIDFILE COMM: true if the pid in PIDFILE is alive (not a zombie: PID 1 here may reap late)
# and really is COMM (not a recycled pid)
running() { [ -s "$1" ] && p=$(cat "$1") && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ] &&
            [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]; }
wait_for() { local t=$1; shift; for _ in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$B"

# 1. packages (the minimal set: slurm-wlm would pull 43 packages incl. unused plugins)
PKGS="slurmctld slurmd slurm-client munge"; BINS="slurmctld slurmd sbatch munged"
[ "$DBD" = 1 ] && { PKGS="$PKGS slurmdbd mariadb-server"; BINS="$BINS slurmdbd mariadbd"; }
missing=0; for b in $BINS; do command -v "$b" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
  log "installing $PKGS"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d on this image denies service starts inside apt: fine, we start daemons ourselves
  apt-get install -y -qq --no-install-recommends $PKGS >"$B/apt.log" 2>&1 || { tail -20 "$B/apt.log"; die "apt-get install failed"; }
fi

# 2. layout + config (always rewritten; cheap)
mkdir -p "$B"/{etc,state,spool,log,run,munge}
chmod 711 "$B/munge"   # munged: socket dir must be o+x, key must not be group/other readable
[ -s "$B/munge/munge.key" ] || { dd if=/dev/urandom of="$B/munge/munge.key" bs=1024 count=1 status=none; }
chmod 400 "$B/munge/munge.key"
NODE=$(hostname -s 2>/dev/null || hostname); [ -n "$NODE" ] || NODE=localhost
MEM_MB=$(awk '/MemTotal/ {print int($2/1024*0.8)}' /proc/meminfo)
# CPU/socket/core layout as slurmd detects it (avoids "socket/core boundaries" mismatch), our own RealMemory
HW=$(slurmd -C | head -1 | sed -E "s/^NodeName=[^ ]+ //; s/RealMemory=[0-9]+/RealMemory=$MEM_MB/")
NCPU=$(echo "$HW" | sed -E 's/.*CPUs=([0-9]+).*/\1/')
DEFMEM=$(( MEM_MB / NCPU < 1024 ? MEM_MB / NCPU : 1024 ))
# job ids restart at 1 whenever the state dir is wiped, so per-job-id files (slurm-%j.out, submitit
# folders) of an earlier run would be picked up again: start each fresh cluster at a time-based id
FIRST_JOBID=$(( ($(date +%s) % 600000) * 100 + 1 ))
if [ "$DBD" = 1 ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# with munge, AccountingStoragePass is the munge socket used to talk to slurmdbd
AccountingStoragePass=$SOCK
JobAcctGatherType=jobacct_gather/linux"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
cat >"$B/etc/slurm.conf.new" <<EOF
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEFMEM
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=5
DependencyParameters=kill_invalid_depend
KillWait=5
MinJobAge=300
FirstJobId=$FIRST_JOBID
$ACCT
JobCompType=jobcomp/filetxt
JobCompLoc=$B/log/jobcomp.txt
NodeName=$NODE NodeAddr=127.0.0.1 $HW State=UNKNOWN
# OverSubscribe=FORCE:4: up to 4 jobs share a core, so that 8 array tasks start together on 2 cores
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
mv "$B/etc/slurm.conf.new" "$B/etc/slurm.conf"
echo "export SLURM_CONF=$B/etc/slurm.conf" >"$B/env.sh"

# 3. munge
if ! running "$B/munge/munged.pid" munged; then
  log "starting munged"
  munged --key-file="$B/munge/munge.key" --socket="$SOCK" --pid-file="$B/munge/munged.pid" \
         --log-file="$B/munge/munged.log" --seed-file="$B/munge/munged.seed" --force
fi
wait_for 10 bash -c "timeout 3 munge -n -S '$SOCK' | timeout 3 unmunge -S '$SOCK'" || die "munge does not work"

# 4. MariaDB + slurmdbd (optional)
if [ "$DBD" = 1 ]; then
  M=$B/mysql; mkdir -p "$M"; chown mysql:mysql "$M"
  cat >"$M/my.cnf" <<EOF
[mysqld]
user=mysql
datadir=$M/data
socket=$M/mysqld.sock
pid-file=$M/mysqld.pid
log-error=$M/mysqld.err
bind-address=127.0.0.1
port=$MYSQL_PORT
skip-name-resolve
innodb_buffer_pool_size=256M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
EOF
  if [ ! -d "$M/data/mysql" ]; then
    log "initialising MariaDB data dir"
    mariadb-install-db --defaults-file="$M/my.cnf" --user=mysql --skip-test-db >"$M/install.log" 2>&1 || die "mariadb-install-db failed"
  fi
  if ! running "$M/mysqld.pid" mariadbd; then
    log "starting mariadbd"
    setsid nohup mariadbd --defaults-file="$M/my.cnf" >"$M/stdout.log" 2>&1 </dev/null &
  fi
  wait_for 60 mariadb-admin --socket="$M/mysqld.sock" ping || die "mariadbd did not come up"
  mariadb --socket="$M/mysqld.sock" -u root -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || die "could not create DB user"
  cat >"$B/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$B/log/slurmdbd.log
PidFile=$B/run/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$B/etc/slurmdbd.conf"   # slurmdbd refuses a group/world-readable conf
  if ! running "$B/run/slurmdbd.pid" slurmdbd; then
    log "starting slurmdbd"
    slurmdbd   # has no -f: finds slurmdbd.conf next to \$SLURM_CONF
  fi
  wait_for 30 port_open "$DBD_PORT" || die "slurmdbd did not open port $DBD_PORT"
  # register the cluster before slurmctld starts
  if ! sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx local; then
    wait_for 30 sacctmgr -i add cluster local || die "sacctmgr add cluster failed"
  fi
fi

# 5. slurmctld + slurmd
if ! running "$B/run/slurmctld.pid" slurmctld; then log "starting slurmctld"; slurmctld; fi
wait_for 30 scontrol ping || die "slurmctld not answering"
if ! running "$B/run/slurmd.pid" slurmd; then log "starting slurmd"; slurmd -N "$NODE"; fi

# 6. wait until the node is idle (resume it if an unclean stop left it down/drained)
for i in $(seq 150); do
  st=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1)
  case "$st" in
    idle|mixed|allocated) log "node $NODE is $st; export SLURM_CONF=$SLURM_CONF"; exit 0 ;;
    down*|drain*|drained*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
die "node $NODE not idle after 30 s (state: ${st:-unknown})"
