#!/usr/bin/env bash
# Sparsity that pays, measured: the density sweep (0, 50, 70, 80, 90, 95, 98% of every sparse-kind
# layer, STR, forced onto the sparse kernels) for ResNet50 b16, ResNet18 b32 and MobileNetV1 b32 at
# 224×224, training and inference, each next to the dense step of the same run (DenseConv, auto:
# Winograd and GEMM); then the issue's targets: ResNet50 b16 at the paper's STR 90.23% budget, and
# ResNet18 b32 at uniform 95%, MobileNetV1 b32 at uniform 90% (depthwise dense), with conv_algorithm
# auto choosing per layer. 2 threads. OPENBLAS_CORETYPE is unset for these commands only (OpenBLAS's
# own choice for this CPU). Run on a quiet machine; STEPS=N sets the timed steps per setting.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product strdist >/dev/null
bin=.build/release/strdist
steps=${STEPS:-5}
budget=${BUDGET:-../shared/reference/SparsityDistributions_90_ResNet50.csv}
run() { env -u OPENBLAS_CORETYPE "$bin" "$@"; }
median() { sed -E 's/.*"step_s_median":([0-9.eE+-]+).*/\1/'; }
grep -m1 "model name" /proc/cpuinfo || true
for spec in ResNet50:16 ResNet18:32 MobileNetV1:32; do
    arch=${spec%%:*} batch=${spec##*:}
    echo "== density sweep: $arch batch $batch"
    run bench-sparse --arch "$arch" --batch "$batch" --threads 2 --steps "$steps" | sed -n '/^sparsity /,$p'
done
echo "== targets (same run: dense, then the sparse model under conv_algorithm auto)"
target() {   # arch batch label sparsity-flags...
    local arch=$1 batch=$2 label=$3; shift 3
    for mode in train eval; do
        local e=""; [ "$mode" = eval ] && e="--eval"
        d=$(run bench --arch "$arch" --conv DenseConv --batch "$batch" --threads 2 --steps "$steps" $e --json | median)
        s=$(run bench --arch "$arch" --conv STRConv --batch "$batch" --threads 2 --steps "$steps" $e --json "$@" | median)
        awk -v a="$arch" -v b="$batch" -v l="$label" -v m="$mode" -v d="$d" -v s="$s" \
            'BEGIN { printf "%-12s b%-3d %-22s %-5s dense %6.3f s  sparse %6.3f s  %5.2f×\n", a, b, l, m, d, s, d / s }'
    done
}
if [ -f "$budget" ]; then
    target ResNet50 16 "STR 90.23% budget" --budget-file "$budget" --budget-column STR
else
    echo "($budget not found: the ResNet50 budget target is skipped)"
fi
target ResNet18 32 "uniform 95%" --sparsity 95
target MobileNetV1 32 "uniform 90%" --sparsity 90
