#!/usr/bin/env python3
"""Tests of scripts/convert_pth.py that need only the standard library (CI has no torch).

The .pth files are built here as PyTorch writes them: a pickle whose globals name
torch._utils._rebuild_tensor_v2 and torch.FloatStorage (stand-in modules registered in
sys.modules while pickling), storages as persistent ids, then either a zip archive
(archive/data.pkl, archive/data/<key>) or the legacy stream (magic number, protocol 1001,
system info, the object, the storage keys, each storage as an int64 count and its bytes).
The script runs with torch, numpy and safetensors made unimportable.

    python3 scripts/tests/test_convert_pth.py
"""
import contextlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import unittest
import zipfile
from collections import OrderedDict

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert_pth.py")
FORMATS = {"float32": "f", "float64": "d", "float16": "e", "bfloat16": "H", "int64": "q", "uint8": "B"}


def _stand_in(module, name, value):
    value.__module__, value.__qualname__ = module.__name__, name
    setattr(module, name, value)
    return value


@contextlib.contextmanager
def fake_torch():
    """torch, torch._utils and torch.cuda, just enough for pickle to name their globals."""
    torch, utils, cuda = (types.ModuleType(n) for n in ("torch", "torch._utils", "torch.cuda"))
    torch._utils, torch.cuda = utils, cuda
    saved = {m.__name__: sys.modules.get(m.__name__) for m in (torch, utils, cuda)}
    sys.modules.update({m.__name__: m for m in (torch, utils, cuda)})
    _stand_in(utils, "_rebuild_tensor_v2", lambda *args: None)
    for name in ("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "ByteStorage"):
        _stand_in(torch, name, type(name, (), {}))
        _stand_in(cuda, name, type(name, (), {}))
    try:
        yield torch
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class Storage:
    def __init__(self, key, dtype, values, cuda=False):
        self.key, self.dtype, self.numel, self.cuda = key, dtype, len(values), cuda
        self.data = struct.pack(f"<{len(values)}{FORMATS[dtype]}", *values)


class Tensor:
    def __init__(self, storage, shape, stride=None, offset=0):
        self.storage, self.shape, self.offset = storage, tuple(shape), offset
        self.stride = stride or tuple(_prod(shape[i + 1:]) for i in range(len(shape)))

    def __reduce_ex__(self, protocol):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.shape, self.stride, False, OrderedDict())


def _prod(xs):
    n = 1
    for x in xs:
        n *= x
    return n


class Pickler(pickle.Pickler):
    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        kind = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                "int64": "Long", "uint8": "Byte"}[obj.dtype] + "Storage"
        module = sys.modules["torch.cuda" if obj.cuda else "torch"]
        pid = ("storage", getattr(module, kind), obj.key, "cuda:0" if obj.cuda else "cpu", obj.numel)
        return pid + (None,) if self.legacy else pid


def storages_in(obj, found):
    if isinstance(obj, Tensor):
        found[obj.storage.key] = obj.storage
    for child in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ():
        storages_in(child, found)
    return found


def save_zip(obj, path, byteorder="little"):
    buffer = io.BytesIO()
    with fake_torch():
        Pickler(buffer, legacy=False).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", byteorder)
        for key, storage in storages_in(obj, {}).items():
            data = storage.data
            if byteorder == "big":
                size = struct.calcsize(FORMATS[storage.dtype])
                data = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
            archive.writestr(f"archive/data/{key}", data)
        archive.writestr("archive/version", "3\n")


def save_legacy(obj, path):
    with open(path, "wb") as f, fake_torch():
        info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
        for header in (0x1950A86A20F9469CFC6C, 1001, info):
            pickle.dump(header, f, protocol=2)
        Pickler(f, legacy=True).dump(obj)
        storages = storages_in(obj, {})
        pickle.dump(sorted(storages), f, protocol=2)
        for key in sorted(storages):
            f.write(struct.pack("<q", storages[key].numel) + storages[key].data)


def read_safetensors(path):
    """{name: (dtype, shape, values)}, after checking the layout strdist's reader requires."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    assert length % 8 == 0, "header padded to 8 bytes"
    header = json.loads(blob[8:8 + length])
    assert header.pop("__metadata__") == {"format": "pt"}
    data, end, out = blob[8 + length:], 0, {}
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        assert begin == end, f"{name} follows the previous tensor"
        code = {"F32": "f", "I64": "q"}[entry["dtype"]]
        count = (stop - begin) // struct.calcsize(code)
        out[name] = (entry["dtype"], entry["shape"], list(struct.unpack(f"<{count}{code}", data[begin:stop])))
        end = stop
    assert end == len(data), "no bytes after the last tensor"
    return out


def f32(*xs):
    return [struct.unpack("<f", struct.pack("<f", x))[0] for x in xs]


class Payload:
    """An object whose unpickling calls `function(*args)`: how a hostile .pth runs code."""
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def reference_checkpoint(cuda=False):
    """What the reference's save_checkpoint writes from a DataParallel model, and the converted tensors expected."""
    ws = [0.1 * i for i in range(12)]
    w = Storage("0", "float32", ws, cuda)
    mean = Storage("1", "float64", [0.1, -2.5, 1e300], cuda)
    count = Storage("2", "int64", [1234567], cuda)
    half = Storage("3", "float16", [0.5, -1.25, 3.0, 65504.0], cuda)
    bf16 = Storage("4", "bfloat16", [0x3FC0, 0xC000], cuda)  # 1.5, -2.0
    momentum = Storage("5", "float32", [9.0, 8.0], cuda)
    state = OrderedDict([
        ("module.conv1.weight", Tensor(w, (2, 3))),
        ("module.fc.weight", Tensor(w, (3, 2), stride=(1, 3))),             # a transposed view of the same storage
        ("module.layer1.weight", Tensor(w, (2, 2), stride=(4, 2), offset=5)),  # strided, with an offset
        ("module.bn1.running_mean", Tensor(mean, (3,))),
        ("module.bn1.num_batches_tracked", Tensor(count, ())),
        ("module.half", Tensor(half, (2, 2))),
        ("module.bf16", Tensor(bf16, (2,))),
        ("module.sparseThreshold", Tensor(w, (1,), offset=11)),
    ])
    checkpoint = {"epoch": 37, "arch": "ResNet50", "state_dict": state, "best_acc1": 76.5, "curr_acc1": "Not evaluated",
                  "optimizer": {"state": {0: {"momentum_buffer": Tensor(momentum, (2,))}},
                                "param_groups": [{"lr": 0.256, "nesterov": False, "params": [0, 1]}]}}
    expected = {
        "conv1.weight": ("F32", [2, 3], f32(*ws[:6])),
        "fc.weight": ("F32", [3, 2], f32(ws[0], ws[3], ws[1], ws[4], ws[2], ws[5])),
        "layer1.weight": ("F32", [2, 2], f32(ws[5], ws[7], ws[9], ws[11])),
        "bn1.running_mean": ("F32", [3], f32(0.1, -2.5) + [float("inf")]),
        "bn1.num_batches_tracked": ("I64", [], [1234567]),
        "half": ("F32", [2, 2], [0.5, -1.25, 3.0, 65504.0]),
        "bf16": ("F32", [2], [1.5, -2.0]),
        "sparseThreshold": ("F32", [1], f32(ws[11])),
    }
    return checkpoint, expected


class ConvertPthTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="convert-pth-")
        # The default path must work without these: importing one fails loudly.
        self.poison = os.path.join(self.dir, "poison")
        for name in ("torch", "numpy", "safetensors"):
            os.makedirs(os.path.join(self.poison, name))
            with open(os.path.join(self.poison, name, "__init__.py"), "w") as f:
                f.write(f"raise SystemExit('convert_pth imported {name}')\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def convert(self, *args):
        env = dict(os.environ, PYTHONPATH=self.poison)
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)

    def assertConverts(self, pth, expected, epoch=""):
        out = self.path(os.path.basename(pth) + ".safetensors")
        r = self.convert(pth, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"wrote {len(expected)} tensors{epoch} to {out}\n")
        self.assertEqual(read_safetensors(out), expected)
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(["poison", os.path.basename(pth), os.path.basename(out)]))

    def assertRefused(self, pth, refused_global, marker):
        out = self.path("out.safetensors")
        r = self.convert(pth, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(f"refused '{pth}': its pickle asks for {refused_global},", r.stderr)
        self.assertIn("--unsafe-unpickle", r.stderr)
        self.assertFalse(os.path.exists(marker), "the pickle's code ran")
        self.assertFalse(os.path.exists(out), "an output was written")
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(["poison", os.path.basename(pth)]))

    def assertFailsInOneLine(self, pth, fragment):
        out = self.path("out.safetensors")
        r = self.convert(pth, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(fragment, r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_zip_checkpoint_converts_exactly(self):
        checkpoint, expected = reference_checkpoint()
        save_zip(checkpoint, self.path("ref.pth"))
        self.assertConverts(self.path("ref.pth"), expected, " (epoch 37)")

    def test_legacy_checkpoint_of_a_gpu_run_converts_exactly(self):
        checkpoint, expected = reference_checkpoint(cuda=True)  # torch 1.3 names torch.cuda.FloatStorage
        save_legacy(checkpoint, self.path("ref.pth"))
        self.assertConverts(self.path("ref.pth"), expected, " (epoch 37)")

    def test_bare_state_dict_and_big_endian_storages(self):
        checkpoint, expected = reference_checkpoint()
        save_zip(checkpoint["state_dict"], self.path("big.pth"), byteorder="big")
        self.assertConverts(self.path("big.pth"), expected)

    def test_payloads_run_under_plain_pickle(self):
        # The hostile files below are hostile: unpickled without restriction they create their file.
        pickle.loads(pickle.dumps(Payload(open, self.path("opened"), "w"), protocol=2)).close()
        pickle.loads(pickle.dumps(Payload(os.system, f"touch {self.path('touched')}"), protocol=2))
        self.assertTrue(os.path.exists(self.path("opened")) and os.path.exists(self.path("touched")))

    def test_zip_whose_pickle_opens_a_file_is_refused(self):
        checkpoint, _ = reference_checkpoint()
        marker = self.path("pwned")
        checkpoint["extra"] = Payload(open, marker, "w")
        save_zip(checkpoint, self.path("evil.pth"))
        self.assertRefused(self.path("evil.pth"), "io.open", marker)

    def test_legacy_whose_pickle_runs_a_command_is_refused(self):
        checkpoint, _ = reference_checkpoint()
        marker = self.path("pwned")
        checkpoint["state_dict"]["module.evil"] = Payload(os.system, f"touch {marker}")
        save_legacy(checkpoint, self.path("evil.pth"))
        self.assertRefused(self.path("evil.pth"), f"{os.name}.system", marker)

    def test_refusal_leaves_an_earlier_output_as_it_was(self):
        save_legacy({"state_dict": {"w": Payload(os.system, "true")}}, self.path("evil.pth"))
        out = self.path("out.safetensors")
        with open(out, "w") as f:
            f.write("earlier")
        self.assertNotEqual(self.convert(self.path("evil.pth"), out).returncode, 0)
        with open(out) as f:
            self.assertEqual(f.read(), "earlier")

    def test_truncated_or_corrupt_files_fail_in_one_line(self):
        checkpoint, _ = reference_checkpoint()
        save_zip(checkpoint, self.path("zip.pth"))
        save_legacy(checkpoint, self.path("legacy.pth"))
        for name in ("zip.pth", "legacy.pth"):
            with open(self.path(name), "rb") as f:
                blob = f.read()
            with open(self.path(name), "wb") as f:
                f.write(blob[:len(blob) - 20])
            self.assertFailsInOneLine(self.path(name), "cannot read")
        with open(self.path("noise.pth"), "wb") as f:
            f.write(os.urandom(256))
        self.assertFailsInOneLine(self.path("noise.pth"), "cannot read")
        self.assertFailsInOneLine(self.path("missing.pth"), "cannot read")
        save_zip({"epoch": 1}, self.path("empty.pth"))
        self.assertFailsInOneLine(self.path("empty.pth"), "holds no tensors")

    def test_help_names_the_risk(self):
        r = self.convert("--help")
        self.assertEqual(r.returncode, 0)
        help_text = " ".join(r.stdout.split())
        self.assertIn("--unsafe-unpickle", help_text)
        self.assertIn("executes any code", help_text)
        self.assertIn("source you trust", help_text)
        self.assertFailsInOneLine("--bogus", "see --help")


if __name__ == "__main__":
    unittest.main()
