#!/usr/bin/env bash
# A real SLURM on this machine, for the batch scripts and their test: munge, slurmctld and one
# slurmd per node, where the nodes are the namespace hosts of scripts/cluster (h1…hN, each with its
# own address, hostname and /tmp; a node's job steps run in its namespace and reach the others over
# TCP). Files a job shares must live outside /tmp (the repository, /var/tmp), as on a cluster.
# Debian's slurm-wlm 22.05 + munge, installed when missing; srun launches MPI ranks with PMIx.
# Idempotent; run as root.
#   bash scripts/slurm/local-cluster.sh up [NODES]     (default 2)
#   bash scripts/slurm/local-cluster.sh down
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/cluster/hosts.sh"
action=${1:-up} nodes=${2:-2}
conf=/etc/slurm/slurm.conf
state=/var/lib/strdist-slurm

down() {
    pkill -x slurmctld 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmstepd 2>/dev/null || true
    sleep 1
    bash "$root/scripts/cluster/down.sh" >/dev/null
    echo "slurm: down"
}

if [ "$action" = down ]; then down; exit 0; fi
# The daemons started below must not inherit the caller's open files (a lock it holds, a pipe a harness
# waits on to end): only stdin, stdout and stderr, which they get as /dev/null. (255: bash's script.)
for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-"; fi; done
[ "$action" = up ] || { echo "usage: local-cluster.sh up [NODES] | down" >&2; exit 2; }

missing=()
for p in slurm-wlm munge; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
trap 'echo "local-cluster.sh: failed; stopping SLURM" >&2; down >/dev/null 2>&1 || true' ERR

# munge: one key, one daemon (the nodes' slurmd talk to it over its socket, which namespaces share).
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
    # Daemons never inherit the caller's stdout/stderr: a caller reading them to the end would wait forever.
    su -s /bin/sh munge -c "/usr/sbin/munged" </dev/null >/dev/null 2>&1 || /usr/sbin/munged --force </dev/null >/dev/null 2>&1
    for _ in $(seq 1 20); do munge -n >/dev/null 2>&1 && break; sleep 0.5; done
fi

bash "$root/scripts/cluster/up.sh" "$nodes" >/dev/null
cpus=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
mkdir -p /etc/slurm "$state/ctld" "$state/log"
{
    echo "# Written by scripts/slurm/local-cluster.sh: $nodes namespace node(s) on this machine."
    echo "ClusterName=strdist"
    echo "SlurmctldHost=$(hostname -s)($cluster_root_ip)"
    echo "SlurmUser=root"
    echo "AuthType=auth/munge"
    echo "StateSaveLocation=$state/ctld"
    echo "SlurmdSpoolDir=$state/slurmd-%n"
    echo "SlurmctldPidFile=/run/slurmctld.pid"
    echo "SlurmdPidFile=/run/slurmd-%n.pid"
    echo "SlurmctldLogFile=$state/log/slurmctld.log"
    echo "SlurmdLogFile=$state/log/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "MpiDefault=pmix"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "ReturnToService=2"
    echo "SlurmdTimeout=30"
    echo "MinJobAge=600"
    echo "KillWait=10"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "AccountingStorageType=accounting_storage/none"
    # Every node is this machine, so each may use all its cores (they share them).
    for k in $(seq 1 "$nodes"); do
        echo "NodeName=h$k NodeAddr=$(cluster_ip "$k") CPUs=$cpus RealMemory=$memory State=UNKNOWN"
    done
    echo "PartitionName=main Nodes=h[1-$nodes] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
} > "$conf"
# Debian's slurmd loads a cgroup plugin even with task/none; point it at this machine's v1 hierarchy.
if [ -d /sys/fs/cgroup/cpu ] || [ -d /sys/fs/cgroup/memory ]; then
    printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nCgroupAutomount=no\n' > /etc/slurm/cgroup.conf
else
    printf 'CgroupPlugin=autodetect\nCgroupMountpoint=/sys/fs/cgroup\n' > /etc/slurm/cgroup.conf
fi

pgrep -x slurmctld >/dev/null || slurmctld </dev/null >/dev/null 2>&1
for _ in $(seq 1 30); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
for k in $(seq 1 "$nodes"); do
    mkdir -p "$state/slurmd-h$k"
    if ! grep -qx slurmd <<<"$(ip netns pids "$(cluster_ns "$k")" 2>/dev/null | xargs -r ps -o comm= -p 2>/dev/null)"; then
        # Each node gets its own /tmp (as real nodes do; PMIx keeps per-node files there). A checkout
        # that itself lives under /tmp (a CI clone) stays visible at its path, as a shared file system
        # would make it on a cluster.
        mkdir -p "$state/tmp-h$k" "$state/realtmp-h$k" && chmod 1777 "$state/tmp-h$k"
        keep=":"
        case "$root" in /tmp/*) keep="mkdir -p '$root' && mount --bind '$state/realtmp-h$k/${root#/tmp/}' '$root'" ;; esac
        ip netns exec "$(cluster_ns "$k")" unshare --uts --mount --propagation private \
            sh -c "mount --bind /tmp '$state/realtmp-h$k' && mount --bind '$state/tmp-h$k' /tmp && $keep && hostname h$k && exec slurmd -N h$k" </dev/null >/dev/null 2>&1
    fi
done
for _ in $(seq 1 60); do
    idle=$( (sinfo -h -o '%T %D' 2>/dev/null || true) | awk '$1 == "idle" { n += $2 } END { print n + 0 }')
    [ "$idle" -ge "$nodes" ] && break
    sleep 1
done
sinfo
[ "${idle:-0}" -ge "$nodes" ] || { echo "local-cluster.sh: only ${idle:-0} of $nodes node(s) came up (see $state/log)" >&2; exit 1; }
echo "slurm: $nodes node(s) idle (h1…h$nodes), controller at $cluster_root_ip"
