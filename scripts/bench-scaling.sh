#!/usr/bin/env bash
# Data-parallel scaling on this machine: ResNet18 training steps at 224×224,
# 16 images per rank, 1 thread per rank, at np = 1 and np = 2 (mpirun binds each
# rank to a core), then efficiency = images/s(2) / (2 · images/s(1)).
#   bash scripts/bench-scaling.sh [--conv STRConv]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build -c release --show-bin-path)/strdist
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
one=$("$bin" bench --arch ResNet18 --batch 16 --size 224 --threads 1 --steps 10 --json "$@")
two=$(mpirun -np 2 "$bin" bench --arch ResNet18 --batch 16 --size 224 --threads 1 --steps 10 --json "$@")
echo "np=1 $one"
echo "np=2 $two"
python3 - "$one" "$two" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"scaling efficiency {100 * b['images_per_s'] / (2 * a['images_per_s']):.1f}%, "
      f"exposed communication {100 * b['exposed_s_median'] / b['step_s_median']:.1f}% of the step "
      f"(all-reduce {b['allreduce_s_median']:.3f} s per step), OpenBLAS {a['openblas_core']}")
PY
