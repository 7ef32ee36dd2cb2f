"""The session sampler's seeded N(0, 1) source (Swift `MotionNoise`), so the reference can replay exactly the
noise a seeded session draws.

Value (frame f, dim j) of a source with `dimension` dims: counter c = f·dimension + j;
a = mix(seed XOR mix(2c)), b = mix(seed XOR mix(2c + 1)) with mix the SplitMix64 finalizer of (x + golden);
u1 = ((a >> 11) + 0.5) / 2^53, u2 = (b >> 11) / 2^53; value = float32(sqrt(-2 ln u1) · cos(2π u2)) in double.
"""
import math

import numpy as np

_MASK = (1 << 64) - 1


def _mix(x):
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def motion_noise(seed, frames, dimension):
    """Rows 0..frames-1 of the seeded source: float32 array [frames, dimension]."""
    out = np.empty((frames, dimension), dtype=np.float32)
    seed &= _MASK
    for f in range(frames):
        for j in range(dimension):
            c = f * dimension + j
            a = _mix(seed ^ _mix((2 * c) & _MASK))
            b = _mix(seed ^ _mix((2 * c + 1) & _MASK))
            u1 = ((a >> 11) + 0.5) / 9007199254740992.0
            u2 = (b >> 11) / 9007199254740992.0
            out[f, j] = np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
    return out
