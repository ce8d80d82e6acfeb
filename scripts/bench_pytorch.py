#!/usr/bin/env python3
"""Times PyTorch training steps on this machine, for a same-machine comparison with
`strdist bench` (needs torch; never run in CI). The models are scripts/interop/torch_models.py's: torchvision's
ResNet layout and the reference's MobileNetV1, each with the 1x1-conv classifier strdist uses.

    python3 scripts/bench_pytorch.py --arch resnet18 --batch 32 --threads 2 [--conv STRConv] [--precision bf16] [--eval]

--precision bf16 runs the step under torch.autocast("cpu", dtype=torch.bfloat16), as researchers train on
CPUs with bf16 arithmetic; --eval times inference (model.eval(), no_grad) instead of training.

Its fastest setting preloads tcmalloc (apt-get install libgoogle-perftools4):
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 python3 scripts/bench_pytorch.py ...
"""
import argparse

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop"))
import torch_models  # noqa: E402
from steptimer import timed  # noqa: E402


class STRConv(torch.nn.Conv2d):
    """The reference's STRConv: every forward prunes the weight by the learned threshold."""

    def forward(self, x):
        w = torch.sign(self.weight) * torch.relu(torch.abs(self.weight) - torch.sigmoid(self.sparseThreshold))
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


def make_str(model, s_init=-3200.0):
    for m in model.modules():
        if type(m) is torch.nn.Conv2d:
            m.__class__ = STRConv
            m.sparseThreshold = torch.nn.Parameter(torch.full((1, 1), s_init))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--conv", default="DenseConv", choices=["DenseConv", "STRConv"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--eval", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    names = {"resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50", "resnet101": "ResNet101",
             "mobilenetv1": "MobileNetV1"}
    model = torch_models.build(names.get(a.arch.lower(), a.arch), 1000)
    if a.conv == "STRConv":
        make_str(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    autocast = a.precision == "bf16"

    def step():
        if a.eval:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                model(x)
            return
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    if a.eval:
        model.eval()
    median, fastest = timed(step, a.steps)
    mode = "eval" if a.eval else "train"
    print(f"pytorch {torch.__version__} {a.arch} {a.conv} {a.precision} batch {a.batch} at {a.size}, {a.threads} threads: "
          f"{mode} step {median:.3f} s median (min {fastest:.3f})")


if __name__ == "__main__":
    main()
