#!/usr/bin/env bash
# A scaling study on this machine, with the programs a cluster uses: training steps of one model
# at a list of rank counts, over shared memory (one host) and over namespace hosts (one rank each)
# linked at each given rate (tc tbf), strong (fixed global batch) or weak (fixed per-rank batch)
# scaling; MPI all-reduce times per message size on every link; then scripts/scaling/report.py
# writes scaling.csv, allreduce.csv, fit.json (α–β per link, projection error on the measured
# points, projections to 16…1024 ranks) and scaling.svg. Run as root (namespaces).
#   bash scripts/scaling-study.sh [--arch ResNet18] [--size 112] [--batch 16] [--mode weak|strong]
#        [--ranks 1,2,4] [--links shm,unthrottled,10gbit,1gbit] [--threads 1] [--steps 5] [--out DIR]
#        [--conv DenseConv|STRConv] [--budget CSV] [--project-link 25gbit]
# --project-link adds two ResNet50 runs (batch 16 per rank, 2 ranks on shared memory: dense, and
# STR at the paper's 90% budget with kept-only all-reduce) whose compute time and gradient buckets
# the report projects to 16…1,024 ranks on that link's fitted alpha and beta.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=ResNet18 size=112 batch=16 mode=weak ranks=1,2,4 links=shm,unthrottled,1gbit threads=1 steps=5
out=scaling-study conv=DenseConv budget="" sizes=8,4K,64K,1M,4M,16M,64M project=""
paper=../shared/reference/SparsityDistributions_90_ResNet50.csv
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2 ;; --size) size=$2 ;; --batch) batch=$2 ;; --mode) mode=$2 ;; --ranks) ranks=$2 ;;
        --links) links=$2 ;; --threads) threads=$2 ;; --steps) steps=$2 ;; --out) out=$2 ;; --conv) conv=$2 ;;
        --budget) budget=$2 ;; --sizes) sizes=$2 ;; --project-link) project=$2 ;;
        *) echo "scaling-study.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
case "$mode" in weak|strong) ;; *) echo "scaling-study.sh: --mode is weak or strong" >&2; exit 2 ;; esac
swift build -c release --product strdist >/dev/null
bin=$(pwd)/.build/release/strdist
source scripts/cluster/hosts.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$out"
runs="$out/runs.jsonl" reduces="$out/allreduce.jsonl"
: > "$runs"; : > "$reduces"
maxranks=$(tr ',' '\n' <<<"$ranks" | sort -n | tail -1)
trap 'bash scripts/cluster/down.sh >/dev/null 2>&1 || true' EXIT
sparsity=()
[ -n "$budget" ] && sparsity=(--budget-file "$budget" --budget-column STR)
for link in ${links//,/ }; do
    if [ "$link" = shm ]; then
        launch() { mpirun --oversubscribe --bind-to none -np "$1" "${@:2}"; }
        hosts_of() { echo 1; }
    else
        bash scripts/cluster/up.sh "$maxranks" "$([ "$link" = unthrottled ] || echo "$link")" >/dev/null
        # shellcheck disable=SC2046
        launch() { mpirun --hostfile "hostfiles/netns-$maxranks" --oversubscribe -np "$1" $(cluster_mpirun_options) "${@:2}" 2>/dev/null; }
        hosts_of() { echo "$1"; }
    fi
    for r in ${ranks//,/ }; do
        [ "$link" != shm ] && [ "$r" -lt 2 ] && continue
        per=$batch
        [ "$mode" = strong ] && per=$((batch / r))
        [ "$per" -ge 1 ] || continue
        line=$(launch "$r" "$bin" bench --arch "$arch" --conv "$conv" --batch "$per" --size "$size" --threads "$threads" \
            --steps "$steps" --json "${sparsity[@]}" | grep '^{')
        echo "{\"link\":\"$link\",\"hosts\":$(hosts_of "$r"),\"mode\":\"$mode\",\"run\":$line}" >> "$runs"
        echo "$link ranks $r: $line" >&2
        if [ "$r" -ge 2 ]; then
            launch "$r" "$bin" bench-allreduce --sizes "$sizes" --repeats 5 --busy "$threads" --json | grep '^{' |
                sed "s/^/{\"link\":\"$link\",\"hosts\":$(hosts_of "$r"),\"t\":/; s/\$/}/" >> "$reduces"
        fi
    done
    [ "$link" = shm ] || bash scripts/cluster/down.sh >/dev/null
done
if [ -n "$project" ]; then
    models=()
    for spec in "dense:DenseConv" "str90:STRConv"; do
        name=${spec%%:*} kind=${spec##*:} extra=()
        if [ "$name" = str90 ]; then
            [ -f "$paper" ] || { echo "($paper not found: no STR projection)" >&2; continue; }
            extra=(--budget-file "$paper" --budget-column STR)
        fi
        line=$(mpirun --oversubscribe --bind-to none -np 2 "$bin" bench --arch ResNet50 --conv "$kind" --batch 16 \
            --threads "$threads" --steps 3 --json "${extra[@]}" | grep '^{')
        models+=("\"ResNet50 $name\": $(python3 -c 'import json,sys; b=json.loads(sys.argv[1]); print(json.dumps({"compute_s": b["rank_compute_s"][1], "bucket_ready": b["bucket_ready"], "bucket_mib": b["bucket_mib"]}))' "$line")")
    done
    (IFS=,; echo "{\"link\": \"$project\", \"models\": {${models[*]}}}") > "$out/projection.json"
fi
python3 scripts/scaling/report.py "$out"
