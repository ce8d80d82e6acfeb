#!/usr/bin/env bash
# The kept-only all-reduce against the dense one: ResNet50, batch 16 per rank, 2 namespace hosts
# (one rank each) at each link rate, STR at the paper's 90.23% budget; MiB all-reduced per step,
# all-reduce and exposed seconds, step time. Also the dense model's 2-host efficiency against one
# rank on each link. Run as root.   bash scripts/scaling/kept-allreduce.sh [10gbit,1gbit] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
links=${1:-10gbit,1gbit} steps=${2:-5}
budget=${BUDGET:-../shared/reference/SparsityDistributions_90_ResNet50.csv}
swift build -c release --product strdist >/dev/null
bin=$(pwd)/.build/release/strdist
source scripts/cluster/hosts.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
trap 'bash scripts/cluster/down.sh >/dev/null 2>&1 || true' EXIT
field() { python3 -c "import json,sys; b=json.loads(sys.argv[1]); print(' '.join(str(b[k]) for k in sys.argv[2:]))" "$@"; }
one=$("$bin" bench --arch ResNet50 --batch 16 --threads 1 --steps "$steps" --json | grep '^{')
printf "1 rank dense: %.1f images/s\n" "$(field "$one" images_per_s)"
for link in ${links//,/ }; do
    bash scripts/cluster/up.sh 2 "$link" >/dev/null
    run() {   # mpirun over the 2 hosts of bench args…
        # shellcheck disable=SC2046
        mpirun --hostfile hostfiles/netns-2 -np 2 $(cluster_mpirun_options) "$bin" bench --arch ResNet50 --batch 16 \
            --threads 1 --steps "$steps" --json "$@" 2>/dev/null | grep '^{'
    }
    dense=$(run)
    read -r ips step <<<"$(field "$dense" images_per_s step_s_median)"
    awk -v l="$link" -v a="$ips" -v o="$(field "$one" images_per_s)" -v s="$step" \
        'BEGIN { printf "%s, dense ResNet50, 2 hosts: %.1f images/s, step %.3f s, efficiency %.1f%%\n", l, a, s, 100 * a / (2 * o) }'
    for mode in dense kept; do
        flag=(); [ "$mode" = dense ] && flag=(--dense-allreduce)
        r=$(run --conv STRConv --budget-file "$budget" --budget-column STR "${flag[@]}")
        read -r mib ar ex st <<<"$(field "$r" allreduce_mib allreduce_s_median exposed_s_median step_s_median)"
        awk -v l="$link" -v m="$mode" -v mib="$mib" -v ar="$ar" -v ex="$ex" -v st="$st" \
            'BEGIN { printf "%s, STR 90%% budget, %-5s all-reduce: %7.1f MiB per step, all-reduce %.3f s, exposed %.3f s, step %.3f s\n", l, m, mib, ar, ex, st }'
    done
    bash scripts/cluster/down.sh >/dev/null
done
