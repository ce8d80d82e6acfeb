#!/usr/bin/env python3
"""Converts a reference (PyTorch) checkpoint to strdist's safetensors, for --pretrained.

Reads `torch.load(PATH)` — a state_dict, or a dict holding one under "state_dict"
(what the reference's save_checkpoint writes) — drops DataParallel's "module."
prefix, and writes every tensor (float32; num_batches_tracked stays int64) with
its PyTorch key. Needs `pip install torch safetensors`.

    python3 scripts/convert_pth.py model_best.pth model_best.safetensors
    strdist --config configs/largescale/resnet50-str.yaml --pretrained model_best.safetensors --evaluate
"""
import sys
import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_pth.py IN.pth OUT.safetensors")
    try:
        ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
    except Exception as e:  # a clear one-line error, never a trace
        sys.exit(f"convert_pth: cannot read '{sys.argv[1]}' as a PyTorch checkpoint: {e}")
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        sys.exit(f"convert_pth: '{sys.argv[1]}' holds no state_dict")
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            continue
        key = key[len("module."):] if key.startswith("module.") else key
        out[key] = value.detach().to(torch.int64 if key.endswith("num_batches_tracked") else torch.float32).contiguous()
    save_file(out, sys.argv[2], metadata={"format": "pt"})
    extra = f" (epoch {ckpt['epoch']})" if isinstance(ckpt, dict) and "epoch" in ckpt else ""
    print(f"wrote {len(out)} tensors{extra} to {sys.argv[2]}")


if __name__ == "__main__":
    main()
