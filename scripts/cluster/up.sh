#!/usr/bin/env bash
# Makes N "hosts" on this machine: network namespaces on one bridge, each with its own address
# (10.77.0.k) and, once started through the agent, its own hostname (h<k>). Idempotent; run as
# root. With a rate (1gbit, 10gbit, 25gbit, …) every host's link is throttled to it in both
# directions with tbf. Writes the hostfile hostfiles/netns-N (one slot per host).
#   bash scripts/cluster/up.sh 2 [1gbit]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/hosts.sh"
hosts=${1:?usage: up.sh HOSTS [RATE]}
rate=${2:-}
trap 'echo "cluster/up.sh: failed; tearing down" >&2; bash "$here/down.sh" >/dev/null 2>&1 || true' ERR
if ! ip link show "$cluster_bridge" >/dev/null 2>&1; then
    ip link add "$cluster_bridge" type bridge
fi
ip addr replace "$cluster_root_ip/24" dev "$cluster_bridge"
ip link set "$cluster_bridge" up
for k in $(seq 1 "$hosts"); do
    ns=$(cluster_ns "$k") veth=$(cluster_veth "$k")
    grep -qw "$ns" <<<"$(ip netns list)" || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
        ip link add "$veth" type veth peer name eth0 netns "$ns"
    fi
    ip link set "$veth" master "$cluster_bridge" up
    ip -n "$ns" addr replace "$(cluster_ip "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    if [ -n "$rate" ]; then
        # tbf on both ends: root→host leaves through the veth, host→root through the namespace's eth0.
        tc qdisc replace dev "$veth" root tbf rate "$rate" burst 4mbit latency 500ms
        tc -n "$ns" qdisc replace dev eth0 root tbf rate "$rate" burst 4mbit latency 500ms
    else
        tc qdisc del dev "$veth" root 2>/dev/null || true
        tc -n "$ns" qdisc del dev eth0 root 2>/dev/null || true
    fi
done
root=$(cd "$here/../.." && pwd)
mkdir -p "$root/hostfiles"
{ echo "# $hosts namespace hosts on this machine (scripts/cluster/up.sh); one rank each"
  for k in $(seq 1 "$hosts"); do echo "$(cluster_ip "$k") slots=1"; done; } > "$root/hostfiles/netns-$hosts"
echo "cluster: $hosts host(s) up${rate:+, links at $rate}; hostfile hostfiles/netns-$hosts"
