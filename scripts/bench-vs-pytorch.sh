#!/usr/bin/env bash
# The six training-step timings of issue 3 — ResNet18 b32, ResNet50 b16, MobileNetV1 b32 at
# 224×224, dense and STR, 2 threads, median of 10 steps — each next to the issue's PyTorch 2.13
# figure (MKL + oneDNN + tcmalloc, measured on the issue's host) and, when torch is installed
# (pip install torch; never in CI), next to PyTorch run here with tcmalloc preloaded, alternating
# with strdist so drift hits both alike. Ratios are strdist ÷ PyTorch (below 1: strdist faster).
# Run on a quiet machine. STEPS=N changes the number of timed steps.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product strdist >/dev/null
steps=${STEPS:-10}
tcmalloc=$(ls /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 2>/dev/null || true)
have_torch=$(python3 -c "import torch" 2>/dev/null && echo yes || echo no)
# The issue's figures, seconds per step.
declare -A issue=([ResNet18:DenseConv]=1.05 [ResNet18:STRConv]=1.07 [ResNet50:DenseConv]=1.46
                  [ResNet50:STRConv]=1.61 [MobileNetV1:DenseConv]=0.75 [MobileNetV1:STRConv]=0.77)
printf "%-12s %-9s %9s %13s %6s %13s %6s   (OpenBLAS %s)\n" model conv strdist "issue PyTorch" ratio \
    "PyTorch here" ratio "$(.build/release/strdist version | sed -n 's/.*OpenBLAS core \([^ ]*\).*/\1/p' | head -1)"
for spec in ResNet18:32 ResNet50:16 MobileNetV1:32; do
    arch=${spec%%:*} batch=${spec##*:}
    for conv in DenseConv STRConv; do
        ours=$(.build/release/strdist bench --arch "$arch" --conv "$conv" --batch "$batch" --threads 2 \
            --steps "$steps" --json | sed -E 's/.*"step_s_median":([0-9.eE+-]+).*/\1/')
        ref=${issue[$arch:$conv]}
        here="-" here_ratio="-"
        if [ "$have_torch" = yes ]; then
            here=$(LD_PRELOAD="$tcmalloc" python3 scripts/bench_pytorch.py --arch "$arch" --conv "$conv" \
                --batch "$batch" --threads 2 --steps "$steps" | sed -E 's/.*train step ([0-9.]+) s median.*/\1/')
            here_ratio=$(awk -v a="$ours" -v b="$here" 'BEGIN { printf "%.2f", a / b }')
        fi
        printf "%-12s %-9s %8.3fs %12.2fs %6.2f %12ss %6s\n" "$arch" "$conv" "$ours" "$ref" \
            "$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')" "$here" "$here_ratio"
    done
done
