#!/usr/bin/python3
"""NumPy (OpenBLAS) baselines for `avatard bench kernels`: the same computations, timed on the same machine.

Usage: /usr/bin/python3 -m tools.bench_numpy [--cases name,name,...]
Prints one JSON object {"numpy": version, "blas": library, "seconds": {case: best seconds}}. Case names
match KernelBenchmark's (matmul_512, conv3x3_256x256_c64, attention_768, grid_sample_1.5M, ...).
"""
import json
import sys
import time

import numpy as np


def timed(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def blas_name():
    """Debian's NumPy links the libblas.so.3 alternative; name the library it resolves to."""
    import os
    path = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return path if os.path.exists(path) else "unknown"


def matmul(n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return timed(lambda: a @ b, 4 if n < 2048 else 2)


def conv3x3(c, hw=256):
    """im2col + one GEMM, the usual way to run a 3x3 conv on a BLAS (same FLOPs as the direct conv)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((c, hw, hw), dtype=np.float32)
    w = rng.standard_normal((c, c * 9), dtype=np.float32)
    b = rng.standard_normal((c, 1), dtype=np.float32)

    def conv():
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        cols = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # c, hw, hw, 3, 3
        cols = cols.transpose(0, 3, 4, 1, 2).reshape(c * 9, hw * hw)
        return w @ cols + b
    return timed(conv, 1 if c >= 256 else 2)


def attention(seq=768, heads=8, dim=64):
    rng = np.random.default_rng(2)
    q = rng.standard_normal((heads, seq, dim), dtype=np.float32)
    k = rng.standard_normal((heads, seq, dim), dtype=np.float32)
    v = rng.standard_normal((heads, seq, dim), dtype=np.float32)

    def run():
        s = q @ k.transpose(0, 2, 1) * np.float32(10.0)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        return s @ v
    return timed(run, 3)


def grid_sample(points=1_500_000, c=32, h=256, w=256):
    """Vectorized bilinear sampling with zeros padding, align_corners=False (as F.grid_sample)."""
    rng = np.random.default_rng(3)
    plane = rng.standard_normal((c, h, w), dtype=np.float32)
    grid = rng.uniform(-1, 1, (points, 2)).astype(np.float32)

    def run():
        fx = ((grid[:, 0] + 1) * w - 1) * 0.5
        fy = ((grid[:, 1] + 1) * h - 1) * 0.5
        x0 = np.floor(fx).astype(np.int64)
        y0 = np.floor(fy).astype(np.int64)
        wx = (fx - x0).astype(np.float32)
        wy = (fy - y0).astype(np.float32)
        acc = np.zeros((c, points), dtype=np.float32)
        for dy, dx, wgt in ((0, 0, (1 - wx) * (1 - wy)), (0, 1, wx * (1 - wy)), (1, 0, (1 - wx) * wy), (1, 1, wx * wy)):
            xi, yi = x0 + dx, y0 + dy
            valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            acc += plane[:, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * (wgt * valid)
        return acc
    return timed(run, 1)


CASES = {
    "matmul_512": lambda: matmul(512),
    "matmul_1024": lambda: matmul(1024),
    "matmul_2048": lambda: matmul(2048),
    "conv3x3_256x256_c64": lambda: conv3x3(64),
    "conv3x3_256x256_c256": lambda: conv3x3(256),
    "attention_768": attention,
    "attention_768_composed": attention,
    "grid_sample_1.5M": grid_sample,
}


def main():
    names = list(CASES)
    if "--cases" in sys.argv:
        names = [n for n in sys.argv[sys.argv.index("--cases") + 1].split(",") if n in CASES]
    seconds = {name: CASES[name]() for name in names}
    print(json.dumps({"numpy": np.__version__, "blas": blas_name(), "seconds": seconds}))


if __name__ == "__main__":
    main()
