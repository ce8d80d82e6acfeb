#!/usr/bin/env python3
"""Times SparseProp (Nikdan et al., ICML 2023: the published CPU sparse-training system) training steps on
this machine, for a same-machine comparison with `strdist bench --conv STRConv --sparsity S` (needs torch and
sparseprop==0.1.14, see ../shared/PEERS.md; never run in CI). The model is scripts/interop/torch_models.py's
(strdist's layout, the 1x1-conv classifier included); every conv's weight is magnitude-pruned to the same
sparsity strdist's --sparsity gives every STR layer, then sparseprop.utils.swap_modules_with_sparse replaces
each layer above 80% sparsity with SparseProp's kernels where its own one-shot timing says they are faster
(it keeps the others dense and says so on stderr). A step: forward, cross-entropy, backward, SGD.

    python3 scripts/bench_sparseprop.py --arch resnet18 --batch 32 --sparsity 0.95 --threads 2
"""
import argparse
import contextlib
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop"))
import torch_models  # noqa: E402
from steptimer import timed  # noqa: E402


def prune(model, sparsity):
    """Zeroes the smallest-magnitude fraction `sparsity` of every conv's weight."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                k = int(round(sparsity * m.weight.numel()))
                if k > 0:
                    cut = m.weight.abs().flatten().kthvalue(k).values
                    m.weight[m.weight.abs() <= cut] = 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="ResNet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sparsity", type=float, default=0.95)
    a = p.parse_args()
    if a.batch % 8:
        sys.exit("bench_sparseprop: --batch must be a multiple of 8 (SparseProp's forward is wrong otherwise)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from sparseprop.utils import swap_modules_with_sparse
    model = torch_models.build(a.arch, 1000)
    prune(model, a.sparsity)
    # SparseProp reports each layer's choice on stdout; keep stdout for the one result line.
    with contextlib.redirect_stdout(sys.stderr):
        model = swap_modules_with_sparse(model, (a.batch, 3, a.size, a.size), inplace=True, verbose=False)
    swapped = sum(1 for m in model.modules() if type(m).__module__.startswith("sparseprop"))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    median, fastest = timed(step, a.steps)
    print(f"sparseprop: {median:.3f} s median (min {fastest:.3f}), {swapped} layers on its "
          f"sparse kernels, torch {torch.__version__}, {a.arch} b{a.batch} at {a.size}, sparsity {a.sparsity}")


if __name__ == "__main__":
    main()
