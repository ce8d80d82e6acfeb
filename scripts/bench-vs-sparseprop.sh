#!/usr/bin/env bash
# strdist's sparse training step against SparseProp 0.1.14 (the published CPU sparse-training system) on this
# machine, in one run: ResNet18 batch 32 at 224×224, 2 threads, every conv (stem and classifier included) at
# the same uniform sparsity (0.95), median of STEPS (10) steps, ROUNDS (2) alternating rounds. strdist runs
# its STR layers at that sparsity (`bench --conv STRConv --sparsity`); SparseProp gets the same model
# magnitude-pruned and its own layer choice (scripts/bench_sparseprop.py). The ratio is SparseProp ÷ strdist
# (above 1: strdist faster). Needs a Python with torch and sparseprop==0.1.14 (SP_PYTHON=/path/to/venv/python;
# see ../shared/PEERS.md); never in CI.
#
#   bash scripts/bench-vs-sparseprop.sh [--arch A] [--batch N] [--sparsity S]
set -euo pipefail
cd "$(dirname "$0")/.."
arch=ResNet18 batch=32 sparsity=0.95
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --sparsity) sparsity=$2; shift 2 ;;
        *) echo "usage: scripts/bench-vs-sparseprop.sh [--arch A] [--batch N] [--sparsity S]" >&2; exit 2 ;;
    esac
done
# STRDIST=path times a binary already built (e.g. the tests' release build) instead of building one.
if [ -z "${STRDIST:-}" ]; then
    swift build -c release --product strdist >/dev/null
    STRDIST=$(swift build -c release --show-bin-path)/strdist
fi
steps=${STEPS:-10} rounds=${ROUNDS:-2}
python=${SP_PYTHON:-python3}
"$python" -c "import torch, sparseprop" 2>/dev/null \
    || { echo "bench-vs-sparseprop: $python lacks torch or sparseprop (see ../shared/PEERS.md; or set SP_PYTHON)" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "$("$STRDIST" version | tail -1)"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $arch b$batch training at sparsity $sparsity, 2 threads, median of $steps steps"
printf "%-8s %10s %11s %14s\n" round strdist SparseProp "SparseProp / strdist"
for round in $(seq 1 "$rounds"); do
    ours=$("$STRDIST" bench --arch "$arch" --conv STRConv --sparsity "$sparsity" --batch "$batch" --threads 2 \
        --steps "$steps" --json | sed -nE 's/.*"step_s_median":([0-9.eE+-]+).*/\1/p')
    theirs=$("$python" scripts/bench_sparseprop.py --arch "$arch" --batch "$batch" --threads 2 --steps "$steps" \
        --sparsity "$sparsity" 2>"$log" | sed -nE 's/^sparseprop: ([0-9.]+) s.*/\1/p') \
        || { echo "bench-vs-sparseprop: bench_sparseprop.py failed:" >&2; tail -5 "$log" >&2; exit 1; }
    if [ -z "$ours" ] || [ -z "$theirs" ]; then
        echo "bench-vs-sparseprop: no time (strdist '$ours', SparseProp '$theirs')" >&2; tail -5 "$log" >&2; exit 1
    fi
    printf "%-8s %9.3fs %10.3fs %14.2f\n" "$round" "$ours" "$theirs" "$(awk -v x="$theirs" -v y="$ours" 'BEGIN { print x / y }')"
done
echo "SparseProp's layer choice (last round): $(grep -c 'replaced with' "$log") on its sparse kernels, $(grep -c 'keeping the module' "$log") kept dense"
