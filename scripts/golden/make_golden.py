#!/usr/bin/env python3
"""Writes Tests/STRDistTests/Golden/GoldenData.swift from PyTorch.

A tiny ResNet18 (width 1/16, CIFAR-style stem, 10 classes, 16x16 inputs, batch 4)
with STR, DNW or GMP convs, built exactly as the reference builds it
(utils/conv_type.py semantics). Parameters and inputs come from a closed-form
formula that the Swift test evaluates too, so the golden file stores only
results: logits, loss, a summary of every gradient (sum, L2 norm, 8 sampled
entries) including sparseThreshold, and the losses of 10 SGD steps (momentum,
weight decay, label smoothing). Needs PyTorch (pip install torch); run it by
hand, never in CI:

    python3 scripts/golden/make_golden.py > Tests/STRDistTests/Golden/GoldenData.swift
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
BATCH, SIZE, CLASSES, WIDTH = 4, 16, 10, 4   # width: 64/16
LABELS = [3, 1, 7, 0]


def key_hash(key):
    return sum((i + 1) * ord(c) for i, c in enumerate(key)) % 997


def formula(key, count, amp, offset=0.0):
    h = key_hash(key)
    return [offset + amp * math.sin(0.731 * j + 0.173 * h + 0.3) for j in range(count)]


class STRConv(nn.Conv2d):
    def forward(self, x):
        w = torch.sign(self.weight) * torch.relu(torch.abs(self.weight) - torch.sigmoid(self.sparseThreshold))
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ChooseEdges(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, prune_rate):
        output = weight.clone()
        _, idx = weight.flatten().abs().sort(stable=True)
        p = int(prune_rate * weight.numel())
        output.flatten()[idx[:p]] = 0
        return output

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class DNWConv(nn.Conv2d):
    prune_rate = 0.5

    def forward(self, x):
        w = ChooseEdges.apply(self.weight, self.prune_rate)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class GMPConv(nn.Conv2d):
    prune_rate = 0.3

    def forward(self, x):
        _, idx = self.weight.flatten().abs().sort(stable=True)
        p = int(self.prune_rate * self.weight.numel())
        mask = torch.ones_like(self.weight)
        mask.flatten()[idx[:p]] = 0
        return F.conv2d(x, self.weight * mask, self.bias, self.stride, self.padding, self.dilation, self.groups)


def make(kind):
    def conv(cin, cout, k, stride=1):
        c = kind(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        if kind is STRConv:
            c.sparseThreshold = nn.Parameter(torch.zeros(1, 1))
        return c

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = conv(cin, cout, 3, stride)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = conv(cout, cout, 3)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (self.downsample(x) if self.downsample is not None else x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = conv(3, WIDTH, 3)
            self.bn1 = nn.BatchNorm2d(WIDTH)
            self.relu = nn.ReLU()
            cin = WIDTH
            for stage in range(4):
                cout = WIDTH << stage
                blocks = [Block(cin, cout, 1 if stage == 0 else 2), Block(cout, cout, 1)]
                setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
                cin = cout
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = conv(cin, CLASSES, 1)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            for stage in range(4):
                x = getattr(self, f"layer{stage + 1}")(x)
            return self.fc(self.avgpool(x)).flatten(1)

    net = Net()
    with torch.no_grad():
        for name, p in net.named_parameters():
            n = p.numel()
            if name.endswith("sparseThreshold"):
                v = [-2.0 + 0.5 * math.sin(0.173 * key_hash(name))]
            elif p.dim() == 4:
                fan = p.shape[1] * p.shape[2] * p.shape[3]
                v = formula(name, n, 1.5 * math.sqrt(2.0 / fan))
            elif name.endswith("weight"):
                v = formula(name, n, 0.2, 1.0)
            else:
                v = formula(name, n, 0.1)
            p.copy_(torch.tensor(v).reshape(p.shape))
    return net


def smoothing_loss(logits, target, eps=0.1):
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
    return ((1 - eps) * nll + eps * (-logp.mean(dim=-1))).mean()


def summary(g):
    flat = g.detach().flatten().double()
    n = flat.numel()
    idx = sorted({(i * 7919) % n for i in range(8)})
    return float(flat.sum()), float(flat.norm()), [(i, float(flat[i])) for i in idx]


def run(kind):
    net = make(kind)
    x = torch.tensor([1.5 * math.sin(0.05 * j + 0.2) for j in range(BATCH * 3 * SIZE * SIZE)]).reshape(BATCH, 3, SIZE, SIZE)
    y = torch.tensor(LABELS)
    net.train()
    logits = net(x)
    loss = smoothing_loss(logits, y)
    net.zero_grad()
    loss.backward()
    grads = {n: summary(p.grad) for n, p in net.named_parameters()}
    first = (logits.detach().flatten().tolist(), float(loss))
    # 10 SGD steps from a fresh copy: momentum 0.9, weight decay 5e-4 on everything, lr 0.01.
    net = make(kind)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        l = smoothing_loss(net(x), y)
        l.backward()
        opt.step()
        losses.append(float(l))
    return first, grads, losses


def swift_floats(v):
    return "[" + ", ".join(repr(float(a)) for a in v) + "]"


def main():
    print("// Generated by scripts/golden/make_golden.py with PyTorch " + torch.__version__ + "; do not edit.")
    print("// Tiny ResNet18 (width 1/16, CIFAR stem, 16x16, batch 4) per conv kind: logits (N x K),")
    print("// loss, gradient summaries (sum, L2 norm, sampled entries) and 10 SGD-step losses.")
    print()
    print("struct GoldenCase {")
    print("    let logits: [Double]")
    print("    let loss: Double")
    print("    let grads: [String: (sum: Double, norm: Double, samples: [(Int, Double)])]")
    print("    let stepLosses: [Double]")
    print("}")
    print()
    print("enum GoldenData {")
    for name, kind in [("str", STRConv), ("dnw", DNWConv), ("gmp", GMPConv)]:
        print_case(name, *run(kind))
    print("}")


def print_case(name, first, grads, losses):
    """One `static let <name> = GoldenCase(...)` from run()'s results."""
    logits, loss = first
    print(f"    static let {name} = GoldenCase(")
    print(f"        logits: {swift_floats(logits)},")
    print(f"        loss: {loss!r},")
    print("        grads: [")
    for k, (s, nrm, samples) in grads.items():
        sm = ", ".join(f"({i}, {v!r})" for i, v in samples)
        print(f'            "{k}": ({s!r}, {nrm!r}, [{sm}]),')
    print("        ],")
    print(f"        stepLosses: {swift_floats(losses)}")
    print("    )")


if __name__ == "__main__":
    main()
