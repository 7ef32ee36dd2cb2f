#!/usr/bin/python3
"""Writes Tests/Fixtures/renderer/: small goldens of the MimicTalk renderer reference for the Swift port.

  /usr/bin/python3 -m tools.make_renderer_fixtures [--out DIR]

For each variant (`small`: RendererConfig.small(), tri-plane, torso input 5; `trigrid`: the same with a
trigrid of depth 3 and torso input 3):
- <variant>/: a complete bundle written by `convert.py person` from a synthetic person checkpoint of the official
  layout (tools/synth_checkpoint.py), i.e. what a user's converted checkpoint looks like, at 64² output.
- <variant>_frame.safetensors: one frame's inputs (as `avatard renderer frame` reads them, float32) and the
  float64 reference's intermediates rounded to float32, so every module can be checked on its own with the
  reference's inputs: secc_planes_raw [3, hid·D, P, P] (to_plane_cnn output, unflipped), planes_raw (+ the
  learnable tri-plane), feature_image [1, hid, R, R], weights_image, depth_image [1, 1, R, R], rgb_torso,
  torso_hidden (the generator's last features, input of torso_encoder), torso_alpha, person_alpha, sr_image and image (clamped) [1, 3, S, S].
Deterministic: rerunning gives the same tensors (the manifest's source sha256 differs: torch.save's pickle is not
byte-stable).
"""
import argparse
import os
import tempfile

import numpy as np
import torch

from tools import convert, synth_checkpoint
from tools.reference import renderer, renderer_frame, safetensors_io
from tools.reference.renderer_config import RendererConfig

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "renderer")
VARIANTS = {"small": dict(), "trigrid": dict(depth=3, trigrid=True, torso_in=3)}


def f32(x):
    return np.ascontiguousarray(x.detach().to(torch.float64).numpy().astype(np.float32))


def write_variant(out, name, overrides, seed):
    cfg = RendererConfig.small(**overrides)
    bundle = os.path.join(out, name)
    os.makedirs(bundle, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        synth_checkpoint.write_person(d, cfg, seed=seed)
        if convert.main(["person", "--checkpoint", d, "--out", bundle, "--name", f"fixture_{name}"]) != 0:
            raise SystemExit(f"convert.py person failed for the {name} fixture")
    cfg, tensors, _ = renderer_frame.load_bundle(bundle)
    inputs = renderer.random_inputs(cfg, seed=seed + 10)
    shapes = renderer.input_shapes(cfg)
    g = torch.Generator().manual_seed(seed + 20)
    rs = torch.rand(shapes["rand_stratified"], generator=g)
    ri = torch.rand(shapes["rand_importance"], generator=g)
    ref = renderer.Renderer(cfg, tensors, dtype=torch.float64)
    with torch.no_grad():
        names = ("cond_cano", "cond_src", "cond_tgt") if cfg.secc_in == 9 else ("cond_cano", "cond_tgt")
        secc = torch.cat([inputs[n].to(torch.float64) for n in names], 1)
        raw = ref.secc_planes_raw(secc)
        out_frame = ref.frame(inputs, rs, ri)
    t = {k: f32(v) for k, v in inputs.items()}
    t["rand_stratified"], t["rand_importance"] = f32(rs), f32(ri)
    t["secc_planes_raw"] = f32(raw)
    t["planes_raw"] = f32(raw + ref.t["learnable_triplane"])
    for k in ("feature_image", "weights_image", "depth_image", "rgb_torso", "torso_hidden", "torso_alpha", "person_alpha",
              "sr_image", "image"):
        t[k] = f32(out_frame[k])
    meta = {"variant": name, "reference": "tools/reference/renderer.py in float64, rounded to float32",
            "planes_raw": "learnable_triplane + secc_planes_raw, unflipped (bundle orientation)"}
    safetensors_io.save_arrays(os.path.join(out, f"{name}_frame.safetensors"), t, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for seed, (name, overrides) in enumerate(VARIANTS.items()):
        write_variant(args.out, name, overrides, seed * 100 + 7)
        print(f"wrote {args.out}/{name} and {name}_frame.safetensors")


if __name__ == "__main__":
    main()
