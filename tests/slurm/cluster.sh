#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on 127.0.0.1, for testing the workflow with `--profile profiles/slurm`.
#
#   bash tests/slurm/cluster.sh up       # install packages if missing, write configs, start daemons, smoke-test
#   bash tests/slurm/cluster.sh down     # cancel jobs, stop the daemons this script started, remove its state
#   bash tests/slurm/cluster.sh status
#
# Debian 12 (bookworm), as root, without systemd: every daemon is started here and stopped by its PID file.
# Daemons: munged, mariadbd + slurmdbd (accounting, so that `sacct` works: the snakemake SLURM executor
# plugin polls job states with sacct whenever the binary exists), slurmctld, slurmd.
# The node declares SLURM_CI_GPUS fake GPUs (gres/gpu): character devices aliasing /dev/null, so jobs asking
# for GPUs are scheduled and get CUDA_VISIBLE_DEVICES, but nothing CUDA is there.
#
# Environment:
#   SLURM_CI_DIR=/tmp/tpt-slurm   state, logs, PID files, fake GPU device nodes, MariaDB datadir
#   SLURM_CI_GPUS=2               fake GPUs on the node (0: none)
#   SLURM_CI_PARTITION=debug      the one partition (profiles/slurm uses "debug")
#   SLURM_CI_DB_PORT=3307         MariaDB's port, bound to 127.0.0.1 (not 3306: leave a system MariaDB alone)
#
# The configs go to /etc/slurm, Slurm's compiled-in default: the plugin's in-job `srun` runs with the SLURM_*
# variables stripped, so a SLURM_CONF pointing elsewhere would break every job. The script refuses to
# overwrite an /etc/slurm/slurm.conf it did not write.
set -euo pipefail

ROOT=${SLURM_CI_DIR:-/tmp/tpt-slurm}
NGPU=${SLURM_CI_GPUS:-2}
PART=${SLURM_CI_PARTITION:-debug}
DBPORT=${SLURM_CI_DB_PORT:-3307}
ETC=/etc/slurm
MARK="# written by tpt tests/slurm/cluster.sh"
NODE=$(hostname -s)
PKGS="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
DAEMONS="munged mariadbd slurmdbd slurmctld slurmd"   # start order; down stops them in reverse

log() { echo "[cluster.sh] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# Show the end of a daemon's logs when something fails, so the error says why.
show_logs() {
  local f
  for f in "$ROOT"/log/*; do
    [ -s "$f" ] || continue
    echo "----- tail $f" >&2
    tail -n 15 "$f" >&2
  done
}

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      show_logs
      die "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.5
  done
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_bg NAME CMD...: run a foreground daemon detached, output to $ROOT/log/NAME.out.
# Its PID file is written by the daemon itself (they all take a PID-file option or config key).
start_bg() {
  local name=$1
  shift
  if pid_alive "$ROOT/run/$name.pid"; then
    log "$name already running (pid $(cat "$ROOT/run/$name.pid"))"
    return 0
  fi
  setsid nohup "$@" >"$ROOT/log/$name.out" 2>&1 </dev/null &
  echo $! >"$ROOT/run/$name.pid"
}

# stop_pidfile NAME: TERM, wait up to 10 s, then KILL.
stop_pidfile() {
  local name=$1 f=$ROOT/run/$1.pid pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

install_packages() {
  local missing=""
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' maintainer scripts must not start services (we start our own daemons, with our configs):
  # a policy-rc.d that exits 101 forbids it. Install a temporary one unless the machine has one.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $missing; } \
    >"$ROOT/log/apt.log" 2>&1 || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$rc" != 0 ]; then
    tail -n 20 "$ROOT/log/apt.log" >&2
    die "apt-get install$missing failed (rc $rc), full log: $ROOT/log/apt.log"
  fi
}

# Write $2 to file $1 only if it differs; return 0 if it changed.
write_if_changed() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
  printf '%s\n' "$2" >"$1"
}

write_configs() {
  mkdir -p "$ETC"
  if [ -f "$ETC/slurm.conf" ] && ! grep -qxF "$MARK" "$ETC/slurm.conf"; then
    die "$ETC/slurm.conf exists and was not written by this script: not touching a real SLURM setup"
  fi

  # The node as slurmd sees it; RealMemory at 90 % so the node is never rejected for having less.
  local hw cpus sockets cores threads mem
  hw=$(slurmd -C | head -1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")
  cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")
  threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  [ -n "$cpus" ] && [ -n "$mem" ] || die "could not parse 'slurmd -C': $hw"
  mem=$((mem * 9 / 10))

  # Fake GPUs: gres/gpu drops a GPU without File=, and wants a character device: mknod aliases of
  # /dev/null (c 1 3) named nvidiaN give CUDA_VISIBLE_DEVICES=0..N-1.
  local gres=""
  CONFIG_CHANGED=0
  if [ "$NGPU" -gt 0 ]; then
    local i
    for ((i = 0; i < NGPU; i++)); do
      [ -c "$ROOT/fakegpu/nvidia$i" ] || mknod "$ROOT/fakegpu/nvidia$i" c 1 3
    done
    gres=" Gres=gpu:$NGPU"
    write_if_changed "$ETC/gres.conf" "$MARK
AutoDetect=off
NodeName=$NODE Name=gpu File=$ROOT/fakegpu/nvidia[0-$((NGPU - 1))]" && CONFIG_CHANGED=1
  elif [ -f "$ETC/gres.conf" ]; then
    rm -f "$ETC/gres.conf"
    CONFIG_CHANGED=1
  fi

  write_if_changed "$ETC/slurm.conf" "$MARK
ClusterName=tpt
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$ROOT/state/ctld
SlurmdSpoolDir=$ROOT/state/d
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
# finished jobs stay visible to squeue for 10 min (the plugin wants >= 3 x its status interval for squeue)
MinJobAge=600
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
# keep the job comment in sacct: the plugin writes rule_<rule>_wildcards_<...> there
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem$gres State=UNKNOWN
PartitionName=$PART Nodes=ALL Default=YES MaxTime=INFINITE State=UP" && CONFIG_CHANGED=1

  write_if_changed "$ETC/slurmdbd.conf" "$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$ROOT/log/slurmdbd.log
PidFile=$ROOT/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DBPORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db" || true
  chmod 600 "$ETC/slurmdbd.conf"
}

start_munge() {
  if (munge -n | unmunge) >/dev/null 2>&1; then
    log "munged already running: using it"
    return 0
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 ||
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  # munged daemonizes itself (as user munge, so its PID file stays in /run/munge); copy the PID so that
  # `down` stops it, and only it.
  runuser -u munge -- /usr/sbin/munged || die "munged did not start"
  wait_for "munged" 20 sh -c 'munge -n | unmunge'
  cp /run/munge/munged.pid "$ROOT/run/munged.pid"
}

start_accounting() {
  local sock=$ROOT/run/mysqld.sock
  if [ ! -d "$ROOT/mysql/mysql" ]; then
    mariadb-install-db --user=root --datadir="$ROOT/mysql" --skip-test-db >"$ROOT/log/mariadb-install.log" 2>&1 ||
      die "mariadb-install-db failed, see $ROOT/log/mariadb-install.log"
  fi
  start_bg mariadbd mariadbd --user=root --datadir="$ROOT/mysql" --socket="$sock" \
    --port="$DBPORT" --bind-address=127.0.0.1 --log-error="$ROOT/log/mariadbd.err" --skip-log-bin \
    --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900
  wait_for "mariadbd on port $DBPORT" 60 mariadb-admin --socket="$sock" ping
  mariadb --socket="$sock" -e "
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    FLUSH PRIVILEGES;" || die "could not create the slurm database user"
  start_bg slurmdbd slurmdbd -D
  wait_for "slurmdbd" 60 sacctmgr -n list cluster
  sacctmgr -n -P list cluster format=cluster | grep -qx tpt || sacctmgr -i add cluster tpt >/dev/null
}

check_usable() {
  local state
  wait_for "node $NODE to be idle" 60 sh -c "sinfo -h -n $NODE -o %T | grep -qx idle"
  timeout 60 srun -p "$PART" -t 1 -n1 true || { show_logs; die "'srun true' failed"; }
  if [ "$NGPU" -gt 0 ]; then
    state=$(timeout 60 srun -p "$PART" -t 1 -n1 --gres=gpu:1 printenv CUDA_VISIBLE_DEVICES) ||
      { show_logs; die "'srun --gres=gpu:1' failed"; }
    [ "$state" = 0 ] || [ "$state" = 1 ] || die "a GPU job got CUDA_VISIBLE_DEVICES='$state'"
  fi
  sacct -n -X -o JobID >/dev/null || die "sacct does not work"
  log "up: $(sinfo -h -N -o '%N %T cpus=%c mem=%mMB gres=%G partition=%P')"
}

up() {
  [ "$(id -u)" = 0 ] || die "must run as root (installs packages, writes /etc/slurm, runs the daemons as root)"
  command -v apt-get >/dev/null || die "needs a Debian/Ubuntu machine (apt-get)"
  mkdir -p "$ROOT"/{state/ctld,state/d,run,log,fakegpu,mysql}
  install_packages
  write_configs
  start_munge
  start_accounting
  if [ "$CONFIG_CHANGED" = 1 ] && pid_alive "$ROOT/run/slurmctld.pid"; then
    # a node's Gres only changes with a restart of slurmctld (scontrol reconfigure is not enough)
    log "slurm.conf changed: restarting slurmctld and slurmd"
    stop_pidfile slurmd
    stop_pidfile slurmctld
  fi
  start_bg slurmctld slurmctld -D
  wait_for "slurmctld" 60 sh -c 'scontrol ping | grep -q UP'
  start_bg slurmd slurmd -D
  check_usable
}

down() {
  local ours=0 n stray
  [ -f "$ETC/slurm.conf" ] && grep -qxF "$MARK" "$ETC/slurm.conf" && ours=1
  if [ "$ours" = 1 ] && pid_alive "$ROOT/run/slurmctld.pid"; then
    # every job on this private cluster is a test's
    squeue -h -o %i | xargs -r scancel 2>/dev/null || true
    for _ in $(seq 1 30); do
      [ -z "$(squeue -h -t R,CG,PD -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for n in $(echo $DAEMONS | tr ' ' '\n' | tac); do
    stop_pidfile "$n"
  done
  if [ "$ours" = 1 ]; then
    # job steps of our slurmd (slurmstepd) would outlive it
    stray=$(pgrep -x slurmstepd || true)
    if [ -n "$stray" ]; then
      log "killing leftover slurmstepd: $stray"
      kill $stray 2>/dev/null || true
    fi
  fi
  for f in slurm.conf gres.conf slurmdbd.conf; do
    if [ -f "$ETC/$f" ] && grep -qxF "$MARK" "$ETC/$f"; then rm -f "$ETC/$f"; fi
  done
  rm -rf "$ROOT"
  log "down"
}

status() {
  local n rc=0
  for n in $DAEMONS; do
    if pid_alive "$ROOT/run/$n.pid"; then
      echo "$n running (pid $(cat "$ROOT/run/$n.pid"))"
    else
      echo "$n not running"
      rc=1
    fi
  done
  sinfo 2>/dev/null || rc=1
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
