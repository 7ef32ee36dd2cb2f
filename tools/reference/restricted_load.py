"""Loads PyTorch checkpoint files without executing arbitrary pickled code.

Both on-disk formats of torch.save are read here directly:
  * the legacy format (`_use_new_zipfile_serialization=False`, used by the official MimicTalk checkpoints):
    five consecutive pickles (magic number, protocol version, system info, the object, the storage keys)
    followed, for each storage, by an int64 element count and the raw little-endian data;
  * the zip format (Hugging Face `pytorch_model.bin`): `<root>/data.pkl` plus one entry per storage.

The unpickler accepts only: dicts, lists, tuples, sets, strings, bytes, numbers, booleans, None,
collections.OrderedDict, bytes spelled as _codecs.encode(str, 'latin1') (protocol 2), tensors (torch._utils._rebuild_tensor_v2 / _rebuild_parameter over typed storages) and
numpy scalars of numeric dtypes. Any other global (a class or function that unpickling would call) is refused with
UnsafePickleError naming it — nothing from the file is ever executed.
"""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bf16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafePickleError(ValueError):
    """The pickle asked for something other than tensors, containers and plain values."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]

    def itemsize(self):
        return 2 if self.dtype == "bf16" else np.dtype(self.dtype).itemsize


class _StorageRef:
    def __init__(self, storage_type, key, numel, view):
        self.storage_type, self.key, self.numel, self.view = storage_type, key, numel, view


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, _StorageRef):
        raise UnsafePickleError("tensor rebuilt from something that is not a storage")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    if not isinstance(data, _TensorRef):
        raise UnsafePickleError("parameter rebuilt from something that is not a tensor")
    return data


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
        raise UnsafePickleError(f"numpy scalar of dtype {dtype!r} refused (numeric dtypes only)")
    return np.frombuffer(data, dtype=dtype)[0]


def _numpy_dtype(name, align=False, copy=False):
    dtype = np.dtype(name)
    if dtype.kind not in "biufc":
        raise UnsafePickleError(f"numpy dtype {name!r} refused (numeric dtypes only)")
    return dtype


def _codecs_encode(text, encoding="utf-8"):
    # Protocol-2 pickles spell bytes objects as _codecs.encode(str, 'latin1'); nothing else is let through.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is accepted only for latin-1 encoded bytes")
    return text.encode("latin-1")


_ALLOWED = {
    ("_codecs", "encode"): _codecs_encode,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storages):
        super().__init__(file, encoding="utf-8")
        self._storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafePickleError(
            f"refusing to unpickle global '{module}.{name}': only tensors, containers and plain values are accepted")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        view = pid[5] if len(pid) > 5 else None
        ref = _StorageRef(storage_type, key, numel, view)
        self._storages.setdefault(key, ref)
        return ref


def _restricted_load(file, storages):
    return _RestrictedUnpickler(file, storages).load()


def _materialize(obj, blobs, memo, select=None, path=()):
    if isinstance(obj, _TensorRef):
        if select is not None and not select(path):
            return None
        if id(obj) in memo:
            return memo[id(obj)]
        base = blobs[obj.storage.key]
        offset = obj.offset
        if obj.storage.view is not None:  # very old format: (view_key, view_offset, view_size)
            offset += int(obj.storage.view[1])
        count = 1
        for s in obj.size:
            count *= s
        if count == 0:
            array = np.zeros(obj.size, dtype=base.dtype)
        else:
            last = offset + sum((n - 1) * st for n, st in zip(obj.size, obj.stride))
            if offset < 0 or last >= base.size:
                raise ValueError(f"tensor view [{offset}..{last}] outside storage {obj.storage.key} of {base.size}")
            array = np.lib.stride_tricks.as_strided(
                base[offset:], shape=obj.size, strides=[st * base.itemsize for st in obj.stride])
        tensor = torch.from_numpy(np.array(array, copy=True))
        if obj.storage.storage_type.dtype == "bf16":
            tensor = (tensor.to(torch.int32) << 16).view(torch.float32)
        memo[id(obj)] = tensor
        return tensor
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialize(v, blobs, memo, select, path + (k,))) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialize(v, blobs, memo, select, path + (k,)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v, blobs, memo, select, path + (i,)) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return tuple(_materialize(v, blobs, memo, select, path + (i,)) for i, v in enumerate(obj))
    return obj


def _array_from_bytes(storage_type, data, numel):
    if storage_type.dtype == "bf16":
        array = np.frombuffer(data, dtype="<u2", count=numel)
    else:
        array = np.frombuffer(data, dtype=np.dtype(storage_type.dtype).newbyteorder("<"), count=numel)
    return array


def _load_legacy(f, select=None):
    storages = {}
    magic = _restricted_load(f, storages)
    if magic != LEGACY_MAGIC:
        raise ValueError("not a PyTorch checkpoint (legacy magic number missing)")
    protocol = _restricted_load(f, storages)
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"unsupported legacy protocol version {protocol}")
    sys_info = _restricted_load(f, storages)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError("only little-endian legacy checkpoints are supported")
    obj = _restricted_load(f, storages)
    keys = _restricted_load(f, storages)
    if not isinstance(keys, list):
        raise ValueError("legacy checkpoint: storage key list missing")
    # The storages are memory-mapped, not read: only the tensors that are materialised (copied) take memory, so a
    # caller that selects part of a large checkpoint keeps its memory bounded by what it selected.
    size = os.fstat(f.fileno()).st_size
    mapped = np.memmap(f.name, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    blobs = {}
    for key in keys:
        key = str(key)
        if key not in storages:
            raise ValueError(f"legacy checkpoint: data for unknown storage {key}")
        ref = storages[key]
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"legacy checkpoint truncated at storage {key}")
        numel = int.from_bytes(head, "little", signed=True)
        nbytes = numel * ref.storage_type.itemsize()
        start = f.tell()
        if numel < 0 or start + nbytes > size:
            raise ValueError(f"legacy checkpoint truncated inside storage {key} "
                             f"({nbytes} bytes needed at offset {start}, file has {size})")
        f.seek(nbytes, os.SEEK_CUR)
        blobs[key] = _array_from_bytes(ref.storage_type, mapped[start:start + nbytes], numel)
    return _materialize(obj, blobs, {}, select)


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError(f"{path}: zip checkpoint without a single data.pkl")
        root = pkl[0][:-len("data.pkl")]
        storages = {}
        obj = _restricted_load(io.BytesIO(z.read(pkl[0])), storages)
        blobs = {}
        for key, ref in storages.items():
            data = z.read(f"{root}data/{key}")
            numel = len(data) // ref.storage_type.itemsize()
            blobs[key] = _array_from_bytes(ref.storage_type, data, numel)
    return _materialize(obj, blobs, {})


def load(path, select=None):
    """Loads a torch.save file (legacy or zip) through the restricted unpickler.

    select(path_tuple) -> bool, if given, decides per tensor (path = the dict keys / list indices leading to it)
    whether it is materialised; tensors not selected come back as None (legacy files: never read into memory)."""
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, "rb") as f:
        return _load_legacy(f, select)
