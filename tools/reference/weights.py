"""Deterministic, counter-based weights shared by the Python reference and the Swift tests.

A *recipe* lists tensors as {"name", "shape", "scale", "offset"}. Element i (row-major, 0-based) of tensor `name`:

    key  = FNV-1a 64-bit hash of the UTF-8 bytes of name
           (h = 0xCBF29CE484222325; for each byte b: h = (h XOR b) * 0x100000001B3 mod 2^64)
    z    = key + (i + 1) * 0x9E3779B97F4A7C15            (mod 2^64)
    z    = (z XOR (z >> 30)) * 0xBF58476D1CE4E5B9        (mod 2^64)
    z    = (z XOR (z >> 27)) * 0x94D049BB133111EB        (mod 2^64)
    z    =  z XOR (z >> 31)                               (the SplitMix64 output for counter i + 1)
    k    = z >> 40                                        (top 24 bits, 0 ... 2^24 - 1)
    u    = (Double(k) + 0.5) / 16777216.0                 (in (0, 1), exact in double)
    value = Float(offset + scale * (2.0 * u - 1.0))       (double arithmetic, one final rounding to float32)

so values are uniform in (offset - scale, offset + scale). Every step is an exact integer or IEEE double
operation, so Swift (UInt64 wrapping &+ &* and Double) reproduces the float32 bits exactly.
"""
import numpy as np
import torch

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def uniform(name, count):
    """The doubles 2u - 1 in (-1, 1) for elements 0..count-1 of tensor `name`."""
    key = np.uint64(fnv1a64(name))
    out = np.empty(count, dtype=np.float64)
    block = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, count, block):
            i = np.arange(start + 1, min(count, start + block) + 1, dtype=np.uint64)
            z = key + i * _GOLDEN
            z = (z ^ (z >> np.uint64(30))) * _M1
            z = (z ^ (z >> np.uint64(27))) * _M2
            z = z ^ (z >> np.uint64(31))
            k = (z >> np.uint64(40)).astype(np.float64)
            out[start:start + len(i)] = 2.0 * ((k + 0.5) / 16777216.0) - 1.0
    return out


def generate(entry):
    """Float32 tensor for one recipe entry."""
    shape = tuple(entry["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    values = entry["offset"] + entry["scale"] * uniform(entry["name"], count)
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


def generate_all(recipe):
    return {entry["name"]: generate(entry) for entry in recipe}


def entry(name, shape, scale, offset=0.0):
    return {"name": name, "shape": [int(s) for s in shape], "scale": float(scale), "offset": float(offset)}


def fan_in_scale(shape, gain=1.0):
    """Uniform bound gain * sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs when gain is 1."""
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
    return gain * float(np.sqrt(3.0 / fan_in))
