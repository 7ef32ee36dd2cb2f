#!/usr/bin/python3
"""Writes Tests/Fixtures/renderer/small_sr_partial_alpha.safetensors: the super-resolution of the `small` fixture
with a person alpha strictly inside (0, 1) over most of the image.

  /usr/bin/python3 -m tools.make_sr_fixture [--out DIR]

In the frame fixtures the torso alpha (~0.5) plus the head alpha (~0.7) exceeds 1 everywhere, so person_alpha is
exactly 1 and the background branch (bg_encoder, the foreground/background fusion) never reaches the output.
This file feeds `Renderer.superres` (float64, rounded to float32) the `small` frame's own feature image, torso
image, background and torso outputs, with two inputs changed: weights_image·0.5 (rows 0–3 ·1.5 instead, so the head alpha
exceeds the threshold 1 there) and torso_alpha times a ramp 0 → 1 over the columns. Stored: those two inputs
and person_alpha, sr_image, image. Needs the existing small bundle and small_frame.safetensors
(tools/make_renderer_fixtures.py); deterministic.
"""
import argparse
import os

import numpy as np
import torch

from tools.reference import renderer, renderer_frame, safetensors_io

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "renderer")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    cfg, tensors, _ = renderer_frame.load_bundle(os.path.join(args.out, "small"))
    frame, _ = safetensors_io.load_arrays(os.path.join(args.out, "small_frame.safetensors"))
    t = {k: torch.from_numpy(v).to(torch.float64) for k, v in frame.items()}
    weights = t["weights_image"] * 0.5
    weights[..., :4, :] *= 3.0
    n = cfg.sr_res
    torso_alpha = t["torso_alpha"] * torch.linspace(0, 1, n, dtype=torch.float64).view(1, 1, 1, n)
    ref = renderer.Renderer(cfg, tensors, dtype=torch.float64)
    # The torso model is not under test here: hand superres the fixture's torso outputs with the new alpha.
    ref.torso = lambda *_: (t["rgb_torso"], t["torso_hidden"], torso_alpha)
    out = {}
    with torch.no_grad():
        sr = ref.superres(t["feature_image"], weights, {k: t[k] for k in ("ref_torso_img", "bg_img", "segmap", "kp_s", "kp_d")}, out)
    f32 = lambda x: np.ascontiguousarray(x.numpy().astype(np.float32))
    arrays = {"weights_image": f32(weights), "torso_alpha": f32(torso_alpha), "person_alpha": f32(out["person_alpha"]),
              "sr_image": f32(sr), "image": f32(sr.clamp(-1, 1))}
    p = out["person_alpha"]
    print(f"person_alpha: min {p.min().item():.3f}, max {p.max().item():.3f}, share < 1: {(p < 1).double().mean().item():.3f}")
    safetensors_io.save_arrays(os.path.join(args.out, "small_sr_partial_alpha.safetensors"), arrays,
                               {"reference": "tools/make_sr_fixture.py: Renderer.superres in float64, rounded to float32"})
    print(f"wrote {args.out}/small_sr_partial_alpha.safetensors")


if __name__ == "__main__":
    main()
