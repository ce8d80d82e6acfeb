#!/usr/bin/env python3
"""Times PyTorch training steps on this machine, for a same-machine comparison with
`strdist bench` (needs torch and torchvision; never run in CI).

    python3 scripts/bench_pytorch.py --arch resnet18 --batch 32 --threads 2
"""
import argparse
import statistics
import time

import torch
import torchvision


def mobilenetv1(num_classes=1000):
    """The reference's MobileNetV1 (models/mobilenetv1.py), with adaptive pooling."""
    def conv_bn(i, o, s):
        return torch.nn.Sequential(torch.nn.Conv2d(i, o, 3, s, 1, bias=False), torch.nn.BatchNorm2d(o), torch.nn.ReLU(True))

    def conv_dw(i, o, s):
        return torch.nn.Sequential(
            torch.nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), torch.nn.BatchNorm2d(i), torch.nn.ReLU(True),
            torch.nn.Conv2d(i, o, 1, 1, 0, bias=False), torch.nn.BatchNorm2d(o), torch.nn.ReLU(True))

    cfg = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
          [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    return torch.nn.Sequential(conv_bn(3, 32, 2), *[conv_dw(i, o, s) for i, o, s in cfg],
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Conv2d(1024, num_classes, 1, bias=False),
                               torch.nn.Flatten())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = mobilenetv1() if a.arch == "mobilenetv1" else getattr(torchvision.models, a.arch)(num_classes=1000)
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
