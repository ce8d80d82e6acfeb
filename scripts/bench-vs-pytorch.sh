#!/usr/bin/env bash
# strdist against PyTorch on this machine, in one run, both precisions: ResNet18 b32, ResNet50 b16 and
# MobileNetV1 b32 at 224×224, 2 threads, median of STEPS (10) steps — strdist fp32, strdist bf16
# (precision: bf16), PyTorch fp32 and PyTorch bf16 autocast (torch.autocast("cpu", dtype=torch.bfloat16)),
# alternating per setting so drift hits all alike. Ratios are strdist ÷ PyTorch at the same precision
# (below 1: strdist faster). Needs torch (python3 -c "import torch", or TORCH_PYTHON=/path/to/venv/python;
# see ../shared/PEERS.md); never in CI. Run on a quiet machine.
#
#   bash scripts/bench-vs-pytorch.sh [--eval] [--conv STRConv] [--budget]
#
# --budget puts STR at the paper's 90% ResNet50 budget (../shared/reference/SparsityDistributions_90_ResNet50.csv,
# column STR) for ResNet50 only; PyTorch runs the same model masked-dense, as the reference does.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=() conv=DenseConv budget=() specs=(ResNet18:32 ResNet50:16 MobileNetV1:32)
while [ $# -gt 0 ]; do
    case "$1" in
        --eval) mode=(--eval); shift ;;
        --conv) conv=$2; shift 2 ;;
        --budget) conv=STRConv specs=(ResNet50:16)
                  budget=(--budget-file ../shared/reference/SparsityDistributions_90_ResNet50.csv --budget-column STR); shift ;;
        *) echo "usage: scripts/bench-vs-pytorch.sh [--eval] [--conv STRConv] [--budget]" >&2; exit 2 ;;
    esac
done
# STRDIST=path times a binary already built (e.g. the tests' release build) instead of building one.
if [ -z "${STRDIST:-}" ]; then
    swift build -c release --product strdist >/dev/null
    STRDIST=$(swift build -c release --show-bin-path)/strdist
fi
strdist=$STRDIST
steps=${STEPS:-10}
python=${TORCH_PYTHON:-python3}
"$python" -c "import torch" 2>/dev/null || { echo "bench-vs-pytorch: $python has no torch (pip install \"torch==2.13.0+cpu\"; or set TORCH_PYTHON)" >&2; exit 1; }
tcmalloc=$(ls /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 2>/dev/null | head -1 || true)
echo "$("$strdist" version | tail -1)"
echo "$(lscpu | sed -n 's/^Model name: *//p'), ${mode[*]:-train} $conv${budget[*]:+ at the STR 90% budget}, median of $steps steps"
printf "%-12s %14s %14s %14s %14s %7s %7s\n" model "strdist fp32" "strdist bf16" "PyTorch fp32" "PyTorch bf16" "fp32" "bf16"
ours() { "$strdist" bench --arch "$1" --conv "$conv" --batch "$2" --threads 2 --steps "$steps" --precision "$3" ${mode[@]+"${mode[@]}"} ${budget[@]+"${budget[@]}"} --json \
    | sed -E 's/.*"step_s_median":([0-9.eE+-]+).*/\1/'; }
theirs() { LD_PRELOAD="$tcmalloc" "$python" scripts/bench_pytorch.py --arch "$1" --conv "$conv" --batch "$2" --threads 2 \
    --steps "$steps" --precision "$3" ${mode[@]+"${mode[@]}"} | sed -E 's/.*step ([0-9.]+) s median.*/\1/'; }
for spec in "${specs[@]}"; do
    arch=${spec%%:*} batch=${spec##*:}
    a=$(ours "$arch" "$batch" fp32); b=$(ours "$arch" "$batch" bf16)
    c=$(theirs "$arch" "$batch" fp32); d=$(theirs "$arch" "$batch" bf16)
    printf "%-12s %13.3fs %13.3fs %13.3fs %13.3fs %7.2f %7.2f\n" "$arch b$batch" "$a" "$b" "$c" "$d" \
        "$(awk -v x="$a" -v y="$c" 'BEGIN { print x / y }')" "$(awk -v x="$b" -v y="$d" 'BEGIN { print x / y }')"
done
