#!/usr/bin/env bash
# Removes what up.sh made (any number of hosts). Idempotent.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/hosts.sh"
for ns in $(ip netns list | awk '{print $1}' | grep '^strdist-h'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns delete "$ns"
done
for veth in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^sd-h'); do ip link delete "$veth" 2>/dev/null; done
ip link show "$cluster_bridge" >/dev/null 2>&1 && ip link delete "$cluster_bridge"
echo "cluster: down"
