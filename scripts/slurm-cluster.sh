#!/usr/bin/env bash
# A one-node Slurm cluster for tests and demos (issue 18), entirely under one directory.
#
#   scripts/slurm-cluster.sh start DIR   # prints "SLURM_CONF=DIR/slurm.conf" when the
#                                        # node is idle; export it for sbatch/squeue
#   scripts/slurm-cluster.sh stop DIR    # stops the daemons that `start DIR` started
#
# Each cluster has its own munged (its socket, key copy, pid and log under DIR/munge),
# its own slurmctld and slurmd (state, spool, logs and pid files under DIR) and its own
# free TCP ports, so several tests may run clusters side by side on one machine and
# nothing of the machine's own munge or Slurm set-up is touched. `stop` kills only the
# processes named in DIR's pid files. Needs root (slurmd runs jobs as their users) and
# the Debian packages slurm-wlm and munge (scripts/install-deps.sh). `start` on a DIR
# whose cluster runs already only prints SLURM_CONF again.
#
# CPUs = nproc, RealMemory = the machine's memory less 10 %, NodeName = `hostname -s`.
# Accounting is off (no sacct): `scontrol show job ID` answers for 300 s after a job's
# end, and DIR/jobcomp.txt keeps one line per ended job.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
case "$2" in
  /*) dir=$2 ;;
  *) dir=$(pwd)/$2 ;;
esac
case "$dir" in
  *[!A-Za-z0-9_./-]*)
    echo "slurm-cluster: DIR may hold only letters, digits and _ . / -: $dir" >&2
    exit 2
    ;;
esac

# Kills the daemon whose pid is in file $1, if that process still runs `$2`.
stop_daemon() {
  local pidfile=$1 name=$2 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  case "$pid" in '' | *[!0-9]*) return 0 ;; esac
  if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

# A TCP port nobody listens on (the kernel picks it), as a number.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

running() {
  [ -s "$1" ] && [ -d "/proc/$(cat "$1")" ]
}

# The processes of this cluster's jobs: slurmstepd and everything it started carry
# SLURM_CONF=DIR/slurm.conf in their environment. Slurm's step daemons outlive slurmd by
# design, so stopping the daemons alone would leave a running job's steps behind.
cluster_processes() {
  local want="SLURM_CONF=$dir/slurm.conf" env pid
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    # A process that ends (or one of another user) while it is read is no error.
    if { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "$want"; then echo "$pid"; fi
  done
}

if [ "$action" = stop ]; then
  # Jobs first, while the controller can still cancel them.
  if running "$dir/slurmctld.pid"; then
    jobs=$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086  # one job id per word
      SLURM_CONF="$dir/slurm.conf" scancel --full --signal=KILL $jobs 2>/dev/null || true
      # shellcheck disable=SC2086
      SLURM_CONF="$dir/slurm.conf" scancel $jobs 2>/dev/null || true
      for _ in $(seq 30); do
        [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  stop_daemon "$dir/slurmd.pid" slurmd
  stop_daemon "$dir/slurmctld.pid" slurmctld
  stop_daemon "$dir/munge/munged.pid" munged
  # Whatever of its jobs is left (a step the controller could not reach).
  for pid in $(cluster_processes); do kill -9 "$pid" 2>/dev/null || true; done
  exit 0
fi
[ "$action" = start ] || usage

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-cluster: must run as root (slurmd starts jobs as their users)" >&2
  exit 1
fi
for tool in munged slurmctld slurmd sinfo python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "slurm-cluster: $tool is missing (run scripts/install-deps.sh)" >&2
    exit 1
  fi
done

conf=$dir/slurm.conf
if running "$dir/slurmctld.pid" && running "$dir/slurmd.pid" &&
  running "$dir/munge/munged.pid"; then
  echo "SLURM_CONF=$conf"
  exit 0
fi
# A half-started cluster (a crash, a killed test) starts again from scratch.
stop_daemon "$dir/slurmd.pid" slurmd
stop_daemon "$dir/slurmctld.pid" slurmctld
stop_daemon "$dir/munge/munged.pid" munged

mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)
mem_mib=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

# munged: its own socket and key copy, owned by the munge user as it requires.
munge_user=munge
id "$munge_user" >/dev/null 2>&1 || munge_user=root
key=/etc/munge/munge.key
if [ ! -s "$key" ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
fi
install -m 0400 -o "$munge_user" "$key" "$dir/munge/munge.key"
chown "$munge_user" "$dir/munge"
chmod 0700 "$dir/munge"
socket=$dir/munge/munge.socket
runuser -u "$munge_user" -- munged --force --socket="$socket" \
  --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
cat >"$conf" <<EOF
ClusterName=edbptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
# srun --mpi=pmix: PMIx's per-step directories under DIR, not /tmp/spmix_appdir_UID_JOB.STEP
# (job ids restart at 1 in every new cluster, and a directory left by an earlier one
# makes the step fail with "File exists").
mkdir -p "$dir/pmix"
echo "PMIxCliTmpDirBase=$dir/pmix" >"$dir/mpi.conf"
export SLURM_CONF=$conf
slurmctld -c
slurmd
for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  if [ "$state" = idle ]; then
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.1
done
echo "slurm-cluster: the node is not idle after 10 s (state: ${state:-none}); logs in $dir" >&2
exit 1
