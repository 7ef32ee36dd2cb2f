#!/usr/bin/python3
"""NumPy (OpenBLAS) baselines for `avatard bench kernels`: the same computations, timed on the same machine.

Prints one JSON object: {name: seconds_per_run}. Run by the benchmark itself; also usable by hand.
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


def main():
    quick = "--quick" in sys.argv
    rng = np.random.default_rng(0)
    out = {}
    for n in ([512, 1024] if quick else [512, 1024, 2048]):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        out[f"matmul_{n}"] = timed(lambda: a @ b, 3)
    for c in ([64, 256] if "--full" in sys.argv else [64]):
        x = rng.standard_normal((c, 256, 256), dtype=np.float32)
        w = rng.standard_normal((c, c, 3, 3), dtype=np.float32)

        def conv():
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
            cols = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # c,256,256,3,3
            cols = cols.transpose(0, 3, 4, 1, 2).reshape(c * 9, 256 * 256)
            return w.reshape(c, c * 9) @ cols
        out[f"conv3x3_256x256_c{c}"] = timed(conv, 2)
    heads, seq, dim = 8, 768, 64
    q = rng.standard_normal((heads, seq, dim), dtype=np.float32)
    k = rng.standard_normal((heads, seq, dim), dtype=np.float32)
    v = rng.standard_normal((heads, seq, dim), dtype=np.float32)

    def attention():
        s = q @ k.transpose(0, 2, 1) * np.float32(10.0)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        return s @ v
    out["attention_768"] = timed(attention, 3)
    c, h, w_, p = 32, 256, 256, 1_500_000
    plane = rng.standard_normal((c, h, w_), dtype=np.float32)
    grid = rng.uniform(-1, 1, (p, 2)).astype(np.float32)

    def grid_sample():
        fx = ((grid[:, 0] + 1) * w_ - 1) * 0.5
        fy = ((grid[:, 1] + 1) * h - 1) * 0.5
        x0 = np.floor(fx).astype(np.int64); y0 = np.floor(fy).astype(np.int64)
        wx = (fx - x0).astype(np.float32); wy = (fy - y0).astype(np.float32)
        acc = np.zeros((c, p), dtype=np.float32)
        for dy, dx, wgt in ((0, 0, (1 - wx) * (1 - wy)), (0, 1, wx * (1 - wy)), (1, 0, (1 - wx) * wy), (1, 1, wx * wy)):
            xi, yi = x0 + dx, y0 + dy
            valid = (xi >= 0) & (xi < w_) & (yi >= 0) & (yi < h)
            vals = plane[:, np.clip(yi, 0, h - 1), np.clip(xi, 0, w_ - 1)]
            acc += vals * (wgt * valid)
        return acc
    out["grid_sample_1.5M"] = timed(grid_sample, 1)
    print(json.dumps({"numpy": np.__version__, "seconds": out}))


if __name__ == "__main__":
    main()
