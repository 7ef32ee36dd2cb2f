"""Minimal safetensors reader/writer (the documented format, written here rather than imported).

Layout: 8-byte little-endian header length N, N bytes of JSON header {name: {dtype, shape, data_offsets}},
optional "__metadata__" (string → string), then the data block; offsets are relative to the data block.
We pad the header with spaces so the data block starts at a multiple of 8.
"""
import json
import struct

import numpy as np
import torch

_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def write(path, tensors, metadata=None, dtype="F32"):
    """Writes {name: tensor/ndarray} as F32 (integer tensors keep I64/I32 when dtype is None)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        value = tensors[name]
        if isinstance(value, torch.Tensor):
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
        data = value.tobytes()
        header[name] = {"dtype": code, "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
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


def read(path, with_metadata=False):
    """Returns {name: torch tensor} (and the metadata dict when asked). BF16 is widened to F32."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        blob = raw[base + begin:base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(blob, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif info["dtype"] in _NP:
            array = np.frombuffer(blob, dtype=np.dtype(_NP[info["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name} has {array.size} elements for shape {list(shape)}")
        out[name] = torch.from_numpy(array.reshape(shape).copy())
    if with_metadata:
        return out, header.get("__metadata__", {})
    return out
