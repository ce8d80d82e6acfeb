#!/usr/bin/env python3
"""Times PyTorch training steps on this machine, for a same-machine comparison with
`strdist bench` (needs torch; never run in CI). The models are scripts/interop/torch_models.py's: torchvision's
ResNet layout and the reference's MobileNetV1, each with the 1x1-conv classifier strdist uses.

    python3 scripts/bench_pytorch.py --arch resnet18 --batch 32 --threads 2
"""
import argparse
import statistics
import time

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop"))
import torch_models  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    names = {"resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50", "resnet101": "ResNet101",
             "mobilenetv1": "MobileNetV1"}
    model = torch_models.build(names.get(a.arch.lower(), a.arch), 1000)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    step(); step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(f"pytorch {torch.__version__} {a.arch} batch {a.batch} at {a.size}, {a.threads} threads: "
          f"train step {statistics.median(times):.3f} s median (min {min(times):.3f})")


if __name__ == "__main__":
    main()
