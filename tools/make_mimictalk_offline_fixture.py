#!/usr/bin/python3
"""Writes Tests/Fixtures/mimictalk/offline.safetensors: upstream's whole offline result
(tools/reference/mimictalk_offline.py, float64) for a 1 s synthetic utterance on the fixture bundle — what
MimicTalkOfflineParityTests compares `render --window full` against.

  /usr/bin/python3 -m tools.make_mimictalk_offline_fixture [--bundle DIR] [--out FILE]

Tensors (float32 unless noted):
- `wave` [16000]: the utterance, 16 kHz (tones and a chirp with an envelope and a pause; `utterance()`);
- `features` [t_x, 24]: the rows the motion model read (utterance-mode HuBERT, zero rows to a multiple of 8);
- `exp` [T, 64]: the whole flow-matching sample (upstream renders the first T − 4 = `kept`);
- `keypoints` [kept, 68, 2]: torso keypoints smoothed over the kept frames; `cameras` [T, 25] smoothed over T;
- `image_frames` I32 [6] and `images` [6, 3, S, S]: the renderer's images (after the clamp) of those frames;
- `f32_error.<name>` [2]: max and mean |float32 reference − float64 reference| of each tensor above — the
  noise floor of the float32 arithmetic, which a float32 port cannot be expected to beat.
Metadata: `case` (JSON: seed, style, sampler, counts). Byte-reproducible (tools/tests/test_mimictalk_convert.py
regenerates the fixture directory, this file included, and compares every byte).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from tools.reference import mimictalk_offline, safetensors_io
from tools.reference.renderer import Renderer

BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "mimictalk")
FILE = "offline.safetensors"
SEED = 20261207
RATE = 16000
SAMPLES = 16000


def utterance(n=SAMPLES, rate=RATE):
    """1 s of speech-like test audio (float32): a 200 Hz tone with two harmonics, a pause, a 300 → 1200 Hz chirp,
    a quiet 150 Hz tone; each segment with 10 ms raised-cosine edges. Computed in float64, then rounded once."""
    t = np.arange(n) / rate
    out = np.zeros(n)

    def segment(lo, hi, signal, amp):
        a, b = int(lo * rate), int(hi * rate)
        ramp = int(0.01 * rate)
        env = np.ones(b - a)
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp], env[-ramp:] = edge, edge[::-1]
        out[a:b] += amp * env * signal(t[a:b] - t[a])

    segment(0.0, 0.3, lambda s: np.sin(2 * np.pi * 200 * s) + 0.5 * np.sin(2 * np.pi * 400 * s)
            + 0.25 * np.sin(2 * np.pi * 600 * s), 0.3)
    segment(0.45, 0.8, lambda s: np.sin(2 * np.pi * (300 * s + 0.5 * (900 / 0.35) * s * s)), 0.25)
    segment(0.8, 1.0, lambda s: np.sin(2 * np.pi * 150 * s), 0.1)
    return out.astype(np.float32)


def image_frames(kept):
    """Six kept frames: the first (the first-face quirk, cond_src's frame), a few inside, the last kept one."""
    return sorted({0, 1, kept // 4, kept // 2, 3 * kept // 4, kept - 1})


def compute(bundle_dir, seed=SEED):
    bundle = mimictalk_offline.Bundle(bundle_dir)
    wave = utterance()
    runs = {}
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        off = mimictalk_offline.motion(bundle, wave, seed, dtype=dtype)
        frames = image_frames(off.kept)
        renderer = Renderer(bundle.renderer_cfg, bundle.renderer_tensors, dtype)
        images = np.stack([mimictalk_offline.render_frame(bundle, off, f, seed, renderer, dtype) for f in frames])
        runs[name] = {"features": off.features.double().numpy(), "exp": off.exp, "keypoints": off.keypoints,
                      "cameras": off.cameras, "images": images, "kept": off.kept, "frames": frames}
    g, s = runs["f64"], runs["f32"]
    assert g["frames"] == s["frames"] and g["kept"] == s["kept"]
    arrays = {"wave": wave, "image_frames": np.asarray(g["frames"], np.int32)}
    for k in ("features", "exp", "keypoints", "cameras", "images"):
        arrays[k] = g[k].astype(np.float32)
        d = np.abs(s[k] - g[k])
        arrays[f"f32_error.{k}"] = np.array([d.max(), d.mean()], np.float32)
    case = {"seed": seed, "style": bundle.default_style, "sampler": bundle.sampler(), "sample_rate": RATE,
            "samples": len(wave), "feature_rows": int(g["features"].shape[0]), "frames": int(g["exp"].shape[0]),
            "kept": g["kept"], "session_frames": -(-len(wave) // (RATE // 25))}
    return arrays, case


def write(bundle_dir, out):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same reduction order on every machine
    try:
        arrays, case = compute(bundle_dir)
    finally:
        torch.set_num_threads(threads)
    safetensors_io.save_arrays(out, arrays, metadata={"format": "avatard-mimictalk-offline", "case": json.dumps(case)})
    return arrays, case


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=BUNDLE)
    ap.add_argument("--out", help=f"default: BUNDLE/{FILE}")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    out = args.out or os.path.join(args.bundle, FILE)
    arrays, case = write(args.bundle, out)
    if not args.quiet:
        floors = ", ".join(f"{k[10:]} {v[0]:.2e}" for k, v in arrays.items() if k.startswith("f32_error."))
        print(f"wrote {out} ({os.path.getsize(out) // 1024} KB): {case}; float32 floor (max) {floors}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
