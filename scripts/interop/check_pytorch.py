#!/usr/bin/env python3
"""Interoperability proof: a strdist checkpoint in plain PyTorch gives strdist's logits.

Loads the safetensors checkpoint with `safetensors.torch.load_file` into a plain
PyTorch model of the same architecture (scripts/interop/torch_models.py) with
strict key and shape matching, runs one random batch through it in eval mode,
runs the same batch through `strdist predict`, and compares the logits
(max |diff| <= 1e-4 * max |logit| + 1e-5). An STR checkpoint carries
`<layer>.sparseThreshold`: its convs get the effective weight
sign(w)*relu(|w| - sigmoid(s)) and the thresholds are dropped, as
`--dense-conv-model` does. Needs `pip install torch safetensors`; not run in CI.

    python3 scripts/interop/check_pytorch.py --checkpoint runs/.../checkpoints/latest.safetensors \
        --config configs/fmnist-resnet18-str.yaml [--size 32] [--batch 8]
"""
import argparse, os, subprocess, sys, tempfile
import torch
import yaml
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--config", required=True, help="the run's config (or its settings.txt)")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--strdist", default=None, help="the strdist binary (default: .build/release/strdist)")
    args = ap.parse_args()
    cfg = yaml.safe_load(open(args.config))
    arch, classes = cfg.get("arch", "ResNet18"), int(cfg.get("num_classes", 1000))
    recurrent = arch == "FastGRNN"
    fmnist = cfg.get("set", "ImageNet") == "FashionMNIST"
    size = args.size or int(cfg.get("image_size") or ((28 if recurrent else 32) if fmnist else 224))
    channels = 1 if recurrent and fmnist else 3

    state = load_file(args.checkpoint)
    thresholds = [k for k in state if k.endswith(".sparseThreshold")]
    for key in thresholds:                       # STR: effective weights, as --dense-conv-model writes them
        layer = key[: -len(".sparseThreshold")]
        weight = layer if layer in state else layer + ".weight"   # a cell's matrix is its own key ("rnn.W")
        w, s = state[weight], state.pop(key)
        state[weight] = torch.sign(w) * torch.relu(w.abs() - torch.sigmoid(s))
    if recurrent:
        rank = lambda k: int(cfg[k]) if cfg.get(k) is not None else None
        model = torch_models.FastGRNN(classes, channels * size, int(cfg.get("hidden_size", 128)), rank("wRank"), rank("uRank"))
    else:
        model = torch_models.build(arch, classes, float(cfg.get("width_mult", 1.0)), bool(cfg.get("cifar_stem", False)),
                                   int(cfg.get("stem_stride", 1)), fc_bias="fc.bias" in state)
    model.load_state_dict(state, strict=True)    # every key and shape must match
    model.eval()

    torch.manual_seed(0)
    x = torch.randn(args.batch, channels, size, size)
    with torch.no_grad():
        ours_torch = model(x)
    binary = args.strdist or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "strdist")
    with tempfile.TemporaryDirectory() as tmp:
        save_file({"input": x.contiguous()}, f"{tmp}/in.safetensors")
        subprocess.run([binary, "predict", "--checkpoint", args.checkpoint, "--input", f"{tmp}/in.safetensors",
                        "--out", f"{tmp}/out.safetensors", "--config", args.config, "--threads", "1"]
                       + ([] if thresholds else ["--conv_type", "DenseConv"]), check=True)
        strdist = load_file(f"{tmp}/out.safetensors")["logits"]
    diff = (strdist - ours_torch).abs().max().item()
    scale = ours_torch.abs().max().item()
    ok = diff <= 1e-4 * scale + 1e-5
    print(f"{arch} {classes} classes at {size}x{size}, batch {args.batch}: {len(state)} tensors loaded strictly"
          f"{f' ({len(thresholds)} STR layers made dense)' if thresholds else ''}; "
          f"max |logit diff| {diff:.3g} (max |logit| {scale:.3g}): {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
