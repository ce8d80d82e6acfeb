#!/usr/bin/env python3
"""Times sparse inference in DeepSparse 1.8 and ONNX Runtime on this machine, for a same-machine comparison
with `strdist bench --eval` (scripts/bench-vs-deepsparse.sh runs all three in one run; never in CI).

The model is scripts/interop/torch_models.py's (strdist's layout and keys) with PyTorch's default
initialisation; each conv, the classifier included, is magnitude-pruned to its row of a per-layer budget
(`--budget-file`, column `--budget-column`, layers numbered in forward order as strdist numbers them), then
exported in eval mode to ONNX (opset 13; the engines fold BatchNorm into the convs). Unstructured sparsity at
the same per-layer rates is what both engines' speed depends on, not the weights' values.

    python3 scripts/bench_deepsparse.py --arch ResNet50 --batch 16 --threads 2 --steps 10 \\
        [--budget-file ../shared/reference/SparsityDistributions_90_ResNet50.csv --budget-column STR]

Prints one line per engine: `<engine>: <median> s median (min <min>), <images/s> images/s`.
Needs deepsparse==1.8.0, "numpy<2", onnx and torch in one Python 3.11 (../shared/PEERS.md).
DeepSparse pins its threads: run on a quiet machine.
"""
import argparse
import csv
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop"))
import torch_models  # noqa: E402
from steptimer import timed  # noqa: E402


def budget(path, column):
    with open(path, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or column not in rows[0]:
        sys.exit(f"bench_deepsparse: budget file '{path}' has no column '{column}'")
    return [float(r[column].strip().rstrip("%")) / 100 for r in rows]


def prune(model, rates):
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(rates) != len(convs):
        sys.exit(f"bench_deepsparse: the budget has {len(rates)} layers but the model has {len(convs)} convs")
    kept = total = 0
    with torch.no_grad():
        for conv, rate in zip(convs, rates):
            w = conv.weight
            k = int(rate * w.numel())
            if k > 0:
                cut = w.abs().flatten().kthvalue(k).values
                w.mul_((w.abs() > cut).float())
            kept += int((w != 0).sum())
            total += w.numel()
    return 1 - kept / total



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="ResNet50")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--budget-file")
    p.add_argument("--budget-column", default="STR")
    p.add_argument("--engines", default="deepsparse,onnxruntime")
    a = p.parse_args()
    torch.manual_seed(0)
    model = torch_models.build(a.arch, a.classes).eval()
    sparsity = prune(model, budget(a.budget_file, a.budget_column)) if a.budget_file else 0.0
    x = torch.randn(a.batch, 3, a.size, a.size)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                          dynamo=False)
        print(f"{a.arch} b{a.batch} at {a.size}x{a.size}, {a.threads} threads, conv weights {100 * sparsity:.2f}% zero",
              flush=True)
        inputs = [x.numpy()]
        for engine in a.engines.split(","):
            if engine == "deepsparse":
                os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
                import deepsparse
                compiled = deepsparse.compile_model(path, batch_size=a.batch, num_cores=a.threads)
                median, best = timed(lambda: compiled.run(inputs), a.steps)
            elif engine == "onnxruntime":
                import onnxruntime as ort
                o = ort.SessionOptions()
                o.intra_op_num_threads = a.threads
                o.inter_op_num_threads = 1
                session = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
                feed = {"input": inputs[0]}
                median, best = timed(lambda: session.run(None, feed), a.steps)
            else:
                sys.exit(f"bench_deepsparse: unknown engine '{engine}' (deepsparse, onnxruntime)")
            print(f"{engine}: {median:.3f} s median (min {best:.3f}), {a.batch / median:.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
