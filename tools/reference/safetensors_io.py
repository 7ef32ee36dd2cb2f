"""The one safetensors reader/writer of tools/ (the documented format, written here rather than imported).

Layout: 8-byte little-endian header length N, N bytes of JSON header {name: {dtype, shape, data_offsets}},
optional "__metadata__" (string → string), then the data block; offsets are relative to the data block.
Tensors are written in sorted name order and the header is padded with spaces so the data block starts at a
multiple of 8, so the same tensors always give the same bytes (committed fixtures are reproducible).

Two front doors over one codec:
- `write` / `read`: torch tensors, stored as F32 (the bundle weight convention; see `write`'s dtype switch).
- `save_arrays` / `load_arrays`: numpy arrays, each stored with its own dtype (fixtures, demo data, face models).
"""
import json
import struct

import numpy as np

_CODES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _CODES.items()}


def _encode(path, named, metadata):
    """named: sorted list of (name, code, contiguous little-endian array)."""
    header, blobs, offset = {}, [], 0
    for name, code, array in named:
        data = array.tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def save_arrays(path, arrays, metadata=None):
    """Writes {name: ndarray} keeping each array's dtype (F64/F32/F16/I64/I32/I16/I8/U8/BOOL)."""
    named = []
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _NAMES:
            raise ValueError(f"{name}: unsupported dtype {array.dtype}")
        named.append((name, _NAMES[dtype], np.ascontiguousarray(array.astype(dtype, copy=False))))
    _encode(path, named, metadata)


def write(path, tensors, metadata=None, dtype="F32"):
    """Writes {name: tensor/ndarray} as F32 (with dtype=None integer tensors keep I64/I32)."""
    named = []
    for name in sorted(tensors):
        value = tensors[name]
        if hasattr(value, "detach"):
            value = value.detach().cpu().contiguous().numpy()
        value = np.ascontiguousarray(value)
        if dtype == "F32" or value.dtype.kind == "f":
            value, code = value.astype("<f4"), "F32"
        elif value.dtype == np.int64:
            value, code = value.astype("<i8"), "I64"
        elif value.dtype == np.int32:
            value, code = value.astype("<i4"), "I32"
        else:
            raise ValueError(f"{name}: unsupported dtype {value.dtype}")
        named.append((name, code, value))
    _encode(path, named, metadata)


def load_arrays(path):
    """Returns ({name: ndarray}, metadata). BF16 is widened to F32. Malformed files raise ValueError naming
    the file (and the tensor)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: the header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is not a JSON object")
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = info["data_offsets"]
            shape = tuple(int(s) for s in info["shape"])
            code = info["dtype"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: tensor {name} has a malformed header entry {info!r}") from None
        if not 0 <= begin <= end <= len(raw) - base:
            raise ValueError(f"{path}: tensor {name} has data offsets [{begin}, {end}] outside the data block")
        blob = raw[base + begin:base + end]
        if code == "BF16":
            array = (np.frombuffer(blob, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif code in _CODES:
            if len(blob) % _CODES[code].itemsize:
                raise ValueError(f"{path}: tensor {name} has {len(blob)} bytes, not a multiple of {code}")
            array = np.frombuffer(blob, dtype=_CODES[code])
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {code}")
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name} has {array.size} elements for shape {list(shape)}")
        out[name] = array.reshape(shape).copy()
    return out, header.get("__metadata__", {})


def read(path, with_metadata=False):
    """Returns {name: torch tensor} (and the metadata dict when asked). BF16 is widened to F32."""
    import torch  # only the torch front door needs it; numpy-only tools never import torch

    arrays, metadata = load_arrays(path)
    out = {name: torch.from_numpy(array) for name, array in arrays.items()}
    if with_metadata:
        return out, metadata
    return out
