# Shared settings of the one-machine cluster (sourced): host k (1…N) is network namespace
# strdist-h<k> with hostname h<k> and address 10.77.0.<k>/24 on a veth pair into the bridge
# strdist-br, where this namespace sits at 10.77.0.254.
cluster_bridge=strdist-br
cluster_net=10.77.0
cluster_root_ip=$cluster_net.254
cluster_ns() { echo "strdist-h$1"; }
cluster_ip() { echo "$cluster_net.$1"; }
cluster_veth() { echo "sd-h$1"; }
# mpirun options for ranks on these hosts: the launch agent instead of ssh, TCP between hosts,
# only the cluster's subnet (the daemons must not try the machine's other interfaces), and no core
# binding — every "host" would bind its first rank to core 0 of the one machine they all share.
cluster_mpirun_options() {
    local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    echo "--mca plm_rsh_agent $here/agent --mca btl tcp,self --mca btl_tcp_if_include $cluster_net.0/24" \
         "--mca oob_tcp_if_include $cluster_net.0/24 --mca plm_rsh_no_tree_spawn 1 --bind-to none"
}
