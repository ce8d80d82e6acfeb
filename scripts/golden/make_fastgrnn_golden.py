#!/usr/bin/env python3
"""Writes Tests/STRDistTests/Golden/FastGRNNGoldenData.swift from PyTorch.

A small FastGRNN classifier as strdist builds `arch: FastGRNN`: EdgeML's
FastGRNNCell (Kusupati et al. 2018) over the rows of a 1-channel image
(batch 4, 6 rows of 5 pixels, hidden 8), h_T into a linear classifier of 4
classes, every matrix STR's sign(w)·relu(|w| − sigmoid(s)) (or dense), full
rank and low rank (wRank 3, uRank 4). The cell's arithmetic is EdgeML's:

    pre = x_t @ W + h @ U            (W = W1 @ W2, U = U1 @ U2 when low rank)
    z = sigmoid(pre + bias_gate);  c = tanh(pre + bias_update)
    h = z * h + (sigmoid(zeta) * (1 - z) + sigmoid(nu)) * c

Parameters and inputs come from the closed-form formula of make_golden.py,
keyed by strdist's tensor names, so the golden file stores results only:
logits, loss (label smoothing 0.1), gradient summaries and the losses of 10
SGD steps (momentum 0.9, weight decay 5e-4, lr 0.05). Needs PyTorch; run it
by hand, never in CI:

    python3 scripts/golden/make_fastgrnn_golden.py > Tests/STRDistTests/Golden/FastGRNNGoldenData.swift
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import formula, key_hash, smoothing_loss, summary, swift_floats  # noqa: E402

BATCH, STEPS, WIDTH, HIDDEN, CLASSES = 4, 6, 5, 8, 4
LABELS = [3, 1, 2, 0]


def shapes(w_rank, u_rank):
    """strdist's tensor names and shapes, in its registration order."""
    s = []
    s += [("rnn.W1", [WIDTH, w_rank]), ("rnn.W2", [w_rank, HIDDEN])] if w_rank else [("rnn.W", [WIDTH, HIDDEN])]
    s += [("rnn.U1", [HIDDEN, u_rank]), ("rnn.U2", [u_rank, HIDDEN])] if u_rank else [("rnn.U", [HIDDEN, HIDDEN])]
    s += [("rnn.bias_gate", [1, HIDDEN]), ("rnn.bias_update", [1, HIDDEN]), ("rnn.zeta", [1, 1]), ("rnn.nu", [1, 1])]
    s += [("classifier.weight", [CLASSES, HIDDEN]), ("classifier.bias", [CLASSES])]
    return s


MATRICES = ("rnn.W", "rnn.W1", "rnn.W2", "rnn.U", "rnn.U1", "rnn.U2", "classifier.weight")


def value(name, shape):
    n = math.prod(shape)
    if name.endswith("sparseThreshold"):
        return [-2.0 + 0.5 * math.sin(0.173 * key_hash(name))]
    if name in MATRICES:
        return formula(name, n, 0.3)
    if name.endswith("zeta"):
        return formula(name, n, 0.5, 1.0)
    if name.endswith(".nu"):
        return formula(name, n, 0.5, -3.0)
    return formula(name, n, 0.2, 0.5)


def make(w_rank, u_rank, sparse):
    params = {}
    for name, shape in shapes(w_rank, u_rank):
        params[name] = torch.tensor(value(name, shape)).reshape(shape).requires_grad_()
        if sparse and name in MATRICES:
            t = name[: -len(".weight")] if name.endswith(".weight") else name
            key = t + ".sparseThreshold"
            params[key] = torch.tensor(value(key, [1, 1])).reshape(1, 1).requires_grad_()
    return params


def effective(params, name):
    w = params[name]
    t = name[: -len(".weight")] if name.endswith(".weight") else name
    s = params.get(t + ".sparseThreshold")
    if s is None:
        return w
    return torch.sign(w) * torch.relu(torch.abs(w) - torch.sigmoid(s))


def forward(params, x):
    def m(name):
        return effective(params, name)

    h = torch.zeros(BATCH, HIDDEN)
    for t in range(STEPS):
        xt = x[:, 0, t, :]
        w_comp = xt @ m("rnn.W1") @ m("rnn.W2") if "rnn.W1" in params else xt @ m("rnn.W")
        u_comp = h @ m("rnn.U1") @ m("rnn.U2") if "rnn.U1" in params else h @ m("rnn.U")
        pre = w_comp + u_comp
        z = torch.sigmoid(pre + params["rnn.bias_gate"])
        c = torch.tanh(pre + params["rnn.bias_update"])
        h = z * h + (torch.sigmoid(params["rnn.zeta"]) * (1.0 - z) + torch.sigmoid(params["rnn.nu"])) * c
    return h @ m("classifier.weight").t() + params["classifier.bias"]


def run(w_rank, u_rank, sparse):
    x = torch.tensor([1.5 * math.sin(0.05 * j + 0.2) for j in range(BATCH * STEPS * WIDTH)]).reshape(BATCH, 1, STEPS, WIDTH)
    y = torch.tensor(LABELS)
    params = make(w_rank, u_rank, sparse)
    logits = forward(params, x)
    loss = smoothing_loss(logits, y)
    loss.backward()
    grads = {n: summary(p.grad) for n, p in params.items()}
    first = (logits.detach().flatten().tolist(), float(loss.detach()))
    params = make(w_rank, u_rank, sparse)
    opt = torch.optim.SGD(params.values(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        l = smoothing_loss(forward(params, x), y)
        l.backward()
        opt.step()
        losses.append(float(l.detach()))
    return first, grads, losses


def print_case(name, first, grads, losses):
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


def main():
    torch.set_default_dtype(torch.float32)
    print("// Generated by scripts/golden/make_fastgrnn_golden.py with PyTorch " + torch.__version__ + "; do not edit.")
    print(f"// FastGRNN (EdgeML's cell) over {STEPS} rows of {WIDTH} pixels, hidden {HIDDEN}, {CLASSES} classes, batch {BATCH}:")
    print("// logits (N x K), loss, gradient summaries and 10 SGD-step losses; STR on every matrix, or dense.")
    print()
    print("enum FastGRNNGoldenData {")
    print_case("str", *run(None, None, True))
    print_case("strLowRank", *run(3, 4, True))
    print_case("dense", *run(None, None, False))
    print("}")


if __name__ == "__main__":
    main()
