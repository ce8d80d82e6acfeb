#!/usr/bin/env python3
"""Converts a reference (PyTorch) checkpoint to strdist's safetensors, for --pretrained.

Reads a `.pth` file -- a state_dict, or a dict holding one under "state_dict" (what the
reference's save_checkpoint writes) -- drops DataParallel's "module." prefix, and writes every
tensor (float32; num_batches_tracked stays int64) with its PyTorch key; other entries are
skipped. Needs Python 3 alone: no torch, numpy or safetensors.

A `.pth` is a pickle, and unpickling runs whatever functions the file names, so this reads it
as `torch.load(weights_only=True)` does: the pickle may name only what a checkpoint is made of
(tensor rebuild functions, storage types, OrderedDict, ...); any other global (os.system,
builtins.eval, a class of the training code) is refused before anything runs, and nothing is
written. Both of PyTorch's formats are read: the zip archive of torch >= 1.6 (`*/data.pkl` and
`*/data/<key>`) and the legacy stream before it (magic number, protocol 1001, system info, the
object, its storage keys, then each storage as an int64 element count and its bytes).
`--unsafe-unpickle` instead loads with torch.load(weights_only=False), which runs any code the
file holds: only for files from a source you trust.

    python3 scripts/convert_pth.py model_best.pth model_best.safetensors
    strdist --config configs/largescale/resnet50-str.yaml --pretrained model_best.safetensors --evaluate
"""
import _compat_pickle
import argparse
import contextlib
import io
import itertools
import json
import math
import os
import pickle
import struct
import sys
import tempfile
import zipfile
from array import array
from collections import OrderedDict

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# dtype -> (bytes per element, array typecode of its values; float16/bfloat16 decode to "f").
DTYPES = {"float32": (4, "f"), "float64": (8, "d"), "float16": (2, "f"), "bfloat16": (2, "f"),
          "int64": (8, "q"), "int32": (4, "i"), "int16": (2, "h"), "int8": (1, "b"), "uint8": (1, "B"),
          "bool": (1, "B")}
STORAGE_DTYPES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
                  "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                  "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}
UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}  # raw elements, moved as bits
SAFETENSORS_DTYPE = {"f": "F32", "q": "I64"}


class Failure(Exception):
    """A one-line message for the user."""


class Refused(Exception):
    """The pickle names a global that a checkpoint never needs."""


class StorageType:
    """What torch.FloatStorage and its kin stand for in a pickle: a dtype."""
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def __setstate__(self, state):
        raise ValueError("a storage type with pickled state")


class Storage:
    """A storage's bytes as the file holds them (`order` is their byte order); a legacy view keeps its root."""
    __slots__ = ("dtype", "numel", "data", "order", "root", "offset")

    def __init__(self, dtype, numel, data=None, order="little", root=None, offset=0):
        self.dtype, self.numel, self.data, self.order, self.root, self.offset = dtype, numel, data, order, root, offset

    def __setstate__(self, state):
        raise ValueError("a storage with pickled state")


class Tensor:
    """What _rebuild_tensor_v2 describes: a strided view of a storage."""
    __slots__ = ("storage", "offset", "shape", "stride", "negated")

    def __init__(self, storage, offset, shape, stride, negated=False):
        if not isinstance(storage, Storage):
            raise ValueError("a tensor whose storage is not a storage")
        ints = [offset, *shape, *stride]
        if not all(type(i) is int and i >= 0 for i in ints) or len(shape) != len(stride):
            raise ValueError(f"a tensor with offset {offset!r}, shape {shape!r}, stride {stride!r}")
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
        if math.prod(shape) > 0 and last >= storage.numel:
            raise ValueError(f"a tensor of shape {tuple(shape)} reaches past its {storage.numel}-element storage")
        self.storage, self.offset, self.negated = storage, offset, negated
        self.shape, self.stride = tuple(shape), tuple(stride)

    def __setstate__(self, state):
        raise ValueError("a tensor with pickled state")

    def raw(self):
        """The elements' bytes in row-major order, in this machine's byte order."""
        size, _ = DTYPES[self.storage.dtype]
        root = self.storage.root or self.storage
        units = memoryview(root.data).cast(UNSIGNED[size])
        base = self.storage.offset + self.offset
        dims = [(n, s) for n, s in zip(self.shape, self.stride) if n != 1]
        count = math.prod(self.shape)
        if count == 0:
            rows = []
        elif all(s == math.prod(n for n, _ in dims[i + 1:]) for i, (_, s) in enumerate(dims)):
            rows = [units[base:base + count].tobytes()]
        else:  # a strided view: one slice per innermost row
            (last, step), outer = dims[-1], dims[:-1]
            rows = []
            for index in itertools.product(*(range(n) for n, _ in outer)):
                start = base + sum(i * s for i, (_, s) in zip(index, outer))
                rows.append(units[start:start + 1].tobytes() * last if step == 0
                            else units[start:start + (last - 1) * step + 1:step].tobytes())
        data = b"".join(rows)
        if root.order == sys.byteorder or size == 1:
            return data
        swapped = array(UNSIGNED[size], data)
        swapped.byteswap()
        return swapped.tobytes()

    def values(self):
        """The elements as an array of the dtype's values (float16 and bfloat16 widen exactly to float32)."""
        dtype, data = self.storage.dtype, self.raw()
        if dtype == "float16":
            values = array("f", struct.unpack(f"={len(data) // 2}e", data))
        elif dtype == "bfloat16":
            values = array("f", array("I", [u << 16 for u in array("H", data)]).tobytes())
        else:
            values = array(DTYPES[dtype][1], data)
        return array(values.typecode, [-v for v in values]) if self.negated else values


def rebuild_tensor(storage, offset, shape, stride, requires_grad=False, hooks=None, metadata=None):
    return Tensor(storage, offset, shape, stride, negated=bool(metadata and metadata.get("neg")))


def rebuild_from_type(func, new_type, args, state):
    if new_type not in (TORCH_TENSOR, TORCH_PARAMETER):
        raise ValueError("a tensor subclass")
    return func(*args)


def encode_latin1(text, encoding="latin1"):  # how protocol 2 pickles bytes
    if encoding not in ("latin1", "latin-1"):
        raise ValueError(f"bytes encoded as {encoding!r}")
    return text.encode("latin1")


TORCH_TENSOR, TORCH_PARAMETER = object(), object()
# What torch.load(weights_only=True) allows and a checkpoint of plain tensors uses; nothing here runs code.
ALLOWED = {
    "collections.OrderedDict": OrderedDict,
    "torch._utils._rebuild_tensor": rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": rebuild_tensor,
    "torch._utils._rebuild_parameter": lambda data, requires_grad=False, hooks=None: data,
    "torch._utils._rebuild_parameter_with_state": lambda data, requires_grad, hooks, state: data,
    "torch._tensor._rebuild_from_type_v2": rebuild_from_type,
    "torch.Tensor": TORCH_TENSOR,
    "torch.nn.parameter.Parameter": TORCH_PARAMETER,
    "torch.Size": tuple,
    "_codecs.encode": encode_latin1,
    "builtins.set": set,
    "torch.UntypedStorage": StorageType("uint8"),
    "torch.storage.UntypedStorage": StorageType("uint8"),
}
for _name, _dtype in STORAGE_DTYPES.items():  # torch.cuda.*: a GPU run's legacy checkpoint names its storages so
    ALLOWED[f"torch.{_name}"] = ALLOWED[f"torch.cuda.{_name}"] = StorageType(_dtype)


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storage=None):
        super().__init__(file, encoding="utf-8")
        self.storage = storage

    def find_class(self, module, name):
        # Protocol 2 spells some globals the Python 2 way (__builtin__.eval); judge and name what Python 3 imports.
        fallback = (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), fallback)
        if f"{module}.{name}" not in ALLOWED:
            raise Refused(f"{module}.{name}")
        return ALLOWED[f"{module}.{name}"]

    def persistent_load(self, pid):
        # ("storage", type, key, location, numel) in a zip; the legacy stream adds view metadata.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and self.storage
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and type(pid[4]) is int and pid[4] >= 0):
            raise ValueError(f"an unexpected persistent id {str(pid)[:80]}")
        storage = self.storage(pid[1].dtype, pid[2], pid[4])
        if (storage.dtype, storage.numel) != (pid[1].dtype, pid[4]):
            raise ValueError(f"storage {pid[2]} read as {storage.numel} {storage.dtype} and {pid[4]} {pid[1].dtype}")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        key, offset, numel = view  # a storage view of PyTorch before 1.0: offset and size in elements
        if not (type(offset) is int and type(numel) is int and 0 <= offset and offset + numel <= storage.numel):
            raise ValueError(f"storage view {key} lies outside storage {pid[2]}")
        return Storage(storage.dtype, numel, root=storage, offset=offset)


def read_zip(file):
    with zipfile.ZipFile(file) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise Failure("a zip archive, but not a PyTorch checkpoint (no single '*/data.pkl')")
        prefix = pickles[0][:-len("data.pkl")]
        order = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
        if order not in ("little", "big"):
            raise ValueError(f"byte order {order!r}")
        storages = {}

        def storage(dtype, key, numel):
            if key not in storages:
                data = archive.read(prefix + "data/" + key)
                if len(data) != numel * DTYPES[dtype][0]:
                    raise ValueError(f"storage {key} holds {len(data)} bytes, not {numel} {dtype} elements")
                storages[key] = Storage(dtype, numel, data, order)
            return storages[key]

        return RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storage).load()


def read_legacy(file):
    if RestrictedUnpickler(file).load() != LEGACY_MAGIC or RestrictedUnpickler(file).load() != LEGACY_PROTOCOL:
        raise Failure("not a PyTorch checkpoint (neither a zip archive nor the legacy format's magic number)")
    RestrictedUnpickler(file).load()  # system info: the saver's byte order and type sizes; data are little-endian
    storages = {}

    def storage(dtype, key, numel):
        return storages.setdefault(key, Storage(dtype, numel))

    result = RestrictedUnpickler(file, storage).load()
    for key in RestrictedUnpickler(file).load():
        s = storages.get(key)
        head = file.read(8)
        if s is None or len(head) != 8 or struct.unpack("<q", head)[0] != s.numel:
            raise ValueError(f"storage {key} does not match its record")
        s.data = file.read(s.numel * DTYPES[s.dtype][0])
        if len(s.data) != s.numel * DTYPES[s.dtype][0]:
            raise ValueError(f"the file ends inside storage {key}")
    if any(s.data is None for s in storages.values()):
        raise ValueError("a storage has no data")
    return result


def read_checkpoint(path):
    """The unpickled object, its tensors as Tensor; a refused global or anything unreadable raises."""
    try:
        with open(path, "rb") as file:
            return read_zip(file) if file.peek(4)[:4] == b"PK\x03\x04" else read_legacy(file)
    except (Refused, Failure):
        raise
    except RecursionError:
        raise Failure(f"cannot read '{path}' as a PyTorch checkpoint: nested too deeply") from None
    except Exception as e:  # a clear one-line error, never a trace
        raise Failure(f"cannot read '{path}' as a PyTorch checkpoint: {one_line(e)}") from None


def one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def read_checkpoint_unsafe(path):
    """torch.load(weights_only=False): runs whatever the pickle holds."""
    try:
        import torch
    except ImportError:
        raise Failure("--unsafe-unpickle needs PyTorch (pip install torch); without the flag none is needed") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise Failure(f"cannot read '{path}' with torch.load: {one_line(e)}") from None


def from_torch(value):
    """A torch tensor's elements as a Storage (exact: raw bytes through numpy, else through float64/int64)."""
    import torch
    value = value.detach().cpu().resolve_neg().resolve_conj().reshape(-1)
    try:
        import numpy  # noqa: F401 (tensor.numpy needs it)
        dtype = str(value.dtype).replace("torch.", "")
        data = value.view(torch.int16).numpy().tobytes() if dtype == "bfloat16" else value.numpy().tobytes()
    except ImportError:
        dtype = "float64" if value.is_floating_point() else "int64"
        data = array(DTYPES[dtype][1], value.to(getattr(torch, dtype)).tolist()).tobytes()
    if dtype not in DTYPES:
        raise Failure(f"a tensor of dtype {dtype}, which strdist does not read")
    return Storage(dtype, len(data) // DTYPES[dtype][0], data, sys.byteorder)


def state_dict_of(checkpoint, path):
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise Failure(f"'{path}' holds no state_dict")
    return state


def safetensors_of(state, is_tensor, to_tensor):
    """(name, dtype, shape, little-endian bytes) for each tensor: float32, or int64 for num_batches_tracked."""
    out = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str) or not is_tensor(value):
            continue
        key = key[len("module."):] if key.startswith("module.") else key
        tensor = to_tensor(value)
        typecode = "q" if key.endswith("num_batches_tracked") else "f"
        values = tensor.values()
        if values.typecode != typecode:
            values = array(typecode, values if typecode == "f" else [int(v) for v in values])
        if sys.byteorder == "big":
            values.byteswap()
        out[key] = (SAFETENSORS_DTYPE[typecode], list(tensor.shape), values.tobytes())
    return out


def write_safetensors(path, tensors):
    """The safetensors file, written atomically: a temporary file beside it, synced, then renamed."""
    order = sorted(tensors, key=lambda k: (tensors[k][0] != "I64", k))  # 8-byte dtypes first keep every tensor aligned
    header, offset = OrderedDict(__metadata__={"format": "pt"}), 0
    for key in order:
        dtype, shape, data = tensors[key]
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # as the safetensors library pads: the data start 8-byte aligned
    folder = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as file:
            file.write(struct.pack("<Q", len(text)) + text)
            for key in order:
                file.write(tensors[key][2])
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
        temporary = None
        with contextlib.suppress(OSError):
            directory = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    except OSError as e:
        raise Failure(f"cannot write '{path}': {e.strerror or e}") from None
    finally:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"convert_pth: {message} (see --help)\n")


def parser():
    p = Parser(prog="convert_pth.py", description="Converts a reference PyTorch checkpoint (.pth) to safetensors for "
               "strdist --pretrained. Needs Python 3 alone; a pickle that names anything but tensors, storages and "
               "plain containers is refused before any of it runs.")
    p.add_argument("input", metavar="IN.pth", help="a state_dict, or a dict holding one under 'state_dict'")
    p.add_argument("output", metavar="OUT.safetensors", help="written only when the whole conversion succeeds")
    p.add_argument("--unsafe-unpickle", action="store_true",
                   help="load with torch.load(weights_only=False) instead (needs PyTorch). DANGER: this executes any "
                        "code the file's pickle holds, with your permissions; use it only on a file from a source "
                        "you trust, never on one merely downloaded")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.unsafe_unpickle:
            checkpoint = read_checkpoint_unsafe(args.input)
            import torch  # read_checkpoint_unsafe has imported it
            is_tensor = torch.is_tensor

            def to_tensor(v):
                return Tensor(from_torch(v), 0, v.shape, [math.prod(v.shape[i + 1:]) for i in range(v.dim())])
        else:
            checkpoint = read_checkpoint(args.input)
            is_tensor, to_tensor = lambda v: isinstance(v, Tensor), lambda v: v
        tensors = safetensors_of(state_dict_of(checkpoint, args.input), is_tensor, to_tensor)
        if not tensors:
            raise Failure(f"'{args.input}' holds no tensors (a state_dict, or a dict with one under 'state_dict')")
        write_safetensors(args.output, tensors)
    except Refused as e:
        sys.exit(f"convert_pth: refused '{args.input}': its pickle asks for {e}, which is none of the tensors, "
                 f"storages and plain containers a checkpoint is made of (loading it could run code); nothing was "
                 f"written. If you trust the file's source, --unsafe-unpickle loads it with "
                 f"torch.load(weights_only=False)")
    except Failure as e:
        sys.exit(f"convert_pth: {e}")
    except Exception as e:  # a value that does not convert (a NaN for an int64 key, memory): one line, never a trace
        sys.exit(f"convert_pth: cannot convert '{args.input}': {one_line(e)}")
    extra = f" (epoch {checkpoint['epoch']})" if isinstance(checkpoint, dict) and "epoch" in checkpoint else ""
    print(f"wrote {len(tensors)} tensors{extra} to {args.output}")


if __name__ == "__main__":
    main()
