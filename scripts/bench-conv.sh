#!/usr/bin/env bash
# Conv kernels vs raw sgemm at ResNet50 shapes, with OpenBLAS's own core
# choice and with OPENBLAS_CORETYPE=Haswell forced (as some environments do).
# Usage: scripts/bench-conv.sh [threads...]   (default: 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)/strdist"
for t in "${@:-1 2}"; do
    for t1 in $t; do
        env -u OPENBLAS_CORETYPE "$bin" bench-conv --threads "$t1" --repeats 8
        OPENBLAS_CORETYPE=Haswell "$bin" bench-conv --threads "$t1" --repeats 8
    done
done
