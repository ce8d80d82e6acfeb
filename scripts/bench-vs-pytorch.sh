#!/usr/bin/env bash
# The six training-step timings of issue 3 — ResNet18 b32, ResNet50 b16, MobileNetV1 b32 at
# 224×224, dense and STR, 2 threads, median of 10 steps — for strdist and, when torch is
# installed (pip install torch; never in CI), for PyTorch on the same machine with tcmalloc.
# Run on a quiet machine: the two alternate per case so drift hits both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product strdist >/dev/null
steps=${STEPS:-10}
tcmalloc=$(ls /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 2>/dev/null || true)
for spec in ResNet18:32 ResNet50:16 MobileNetV1:32; do
    arch=${spec%%:*} batch=${spec##*:}
    for conv in DenseConv STRConv; do
        .build/release/strdist bench --arch "$arch" --conv "$conv" --batch "$batch" --threads 2 --steps "$steps"
        if python3 -c "import torch" 2>/dev/null; then
            LD_PRELOAD="$tcmalloc" python3 scripts/bench_pytorch.py --arch "$arch" --conv "$conv" --batch "$batch" \
                --threads 2 --steps "$steps"
        fi
    done
done
