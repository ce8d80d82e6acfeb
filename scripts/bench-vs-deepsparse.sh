#!/usr/bin/env bash
# strdist's sparse inference against DeepSparse 1.8 (the field's sparse inference engine) and ONNX Runtime
# (dense kernels) on this machine, in one run: ResNet50 batch 16 at 224×224, 2 threads, median of STEPS
# (10) batches, dense and at the paper's STR 90% budget (../shared/reference/SparsityDistributions_90_ResNet50.csv,
# column STR: the same per-layer sparsities in all three, magnitude-pruned; scripts/bench_deepsparse.py).
# Ratios are strdist ÷ peer (below 1: strdist faster). Needs a Python with deepsparse==1.8.0, "numpy<2",
# onnx and torch (DS_PYTHON=/path/to/venv/python; see ../shared/PEERS.md); never in CI. DeepSparse pins
# its threads and collapses when another process holds a core: run it on a quiet machine.
#
#   bash scripts/bench-vs-deepsparse.sh [--budget-file F] [--budget-column C] [--batch N] [--arch A]
set -euo pipefail
cd "$(dirname "$0")/.."
arch=ResNet50 batch=16 file=../shared/reference/SparsityDistributions_90_ResNet50.csv column=STR
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --budget-file) file=$2; shift 2 ;;
        --budget-column) column=$2; shift 2 ;;
        *) echo "usage: scripts/bench-vs-deepsparse.sh [--budget-file F] [--budget-column C] [--batch N] [--arch A]" >&2; exit 2 ;;
    esac
done
[ -r "$file" ] || { echo "bench-vs-deepsparse: budget file '$file' cannot be read (pass --budget-file)" >&2; exit 1; }
# STRDIST=path times a binary already built (e.g. the tests' release build) instead of building one.
if [ -z "${STRDIST:-}" ]; then
    swift build -c release --product strdist >/dev/null
    STRDIST=$(swift build -c release --show-bin-path)/strdist
fi
steps=${STEPS:-10}
python=${DS_PYTHON:-python3}
"$python" -c "import deepsparse, onnx, onnxruntime, torch" 2>/dev/null \
    || { echo "bench-vs-deepsparse: $python lacks deepsparse, onnx, onnxruntime or torch (pip install deepsparse==1.8.0 \"numpy<2\" onnx \"torch==2.13.0+cpu\"; or set DS_PYTHON)" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "$("$STRDIST" version | tail -1)"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $arch b$batch inference, 2 threads, median of $steps batches"
printf "%-22s %10s %11s %10s %10s %10s\n" model strdist DeepSparse "ONNX RT" "/ DS" "/ ORT"
ours() { "$STRDIST" bench --arch "$arch" --conv "$1" --batch "$batch" --threads 2 --steps "$steps" --eval "${@:2}" --json \
    | sed -nE 's/.*"step_s_median":([0-9.eE+-]+).*/\1/p'; }
# The peers' warnings go to a log, shown when their run fails or gives no time.
theirs() { NM_DISABLE_ANALYTICS=1 "$python" scripts/bench_deepsparse.py --arch "$arch" --batch "$batch" --threads 2 \
    --steps "$steps" "$@" 2>"$log" || { echo "bench-vs-deepsparse: bench_deepsparse.py failed:" >&2; tail -5 "$log" >&2; exit 1; }; }
row() {
    local label=$1 s=$2 out=$3
    local ds ort
    ds=$(sed -nE 's/^deepsparse: ([0-9.]+) s.*/\1/p' <<<"$out"); ort=$(sed -nE 's/^onnxruntime: ([0-9.]+) s.*/\1/p' <<<"$out")
    if [ -z "$s" ] || [ -z "$ds" ] || [ -z "$ort" ]; then
        echo "bench-vs-deepsparse: no time for $label (strdist '$s', DeepSparse '$ds', ONNX Runtime '$ort')" >&2
        tail -5 "$log" >&2
        exit 1
    fi
    printf "%-22s %9.3fs %10.3fs %9.3fs %9.2f %9.2f\n" "$label" "$s" "$ds" "$ort" \
        "$(awk -v x="$s" -v y="$ds" 'BEGIN { print x / y }')" "$(awk -v x="$s" -v y="$ort" 'BEGIN { print x / y }')"
}
dense=$(ours DenseConv) || { echo "bench-vs-deepsparse: strdist bench failed" >&2; exit 1; }
dense_peers=$(theirs)
row "dense" "$dense" "$dense_peers"
sparse=$(ours STRConv --budget-file "$file" --budget-column "$column") || { echo "bench-vs-deepsparse: strdist bench failed" >&2; exit 1; }
sparse_peers=$(theirs --budget-file "$file" --budget-column "$column")
row "$column budget ($(basename "$file" .csv | sed 's/SparsityDistributions_//'))" "$sparse" "$sparse_peers"
