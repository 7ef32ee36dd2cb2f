#!/usr/bin/python3
"""Inputs and the PyTorch baseline for `avatard bench renderer`, and the full-size parity check's reference frame.

  /usr/bin/python3 -m tools.bench_renderer --work DIR [--size full|small] [--repeats N] [--no-torch] [--float64-out]
                                           [--reference-only]

Makes (once, cached in DIR) a synthetic MimicTalk person checkpoint of the official layout
(tools/synth_checkpoint.py) and converts it with `convert.py person` into DIR/<size>/bundle; writes one frame's
inputs with injected random draws to DIR/<size>/inputs (the `renderer frame` layout); then times the functional
reference (tools/reference/renderer.py, float32) per module group and per frame on the same inputs, and writes its
frame to DIR/<size>/reference.npy. Prints one JSON object:
  {"torch": version, "threads": n, "bundle": path, "inputs": path, "reference": path,
   "seconds": {"frame": s, "adapter": s, "nerf": s, "torso": s, "sr": s}}   (best of --repeats; none with --no-torch)
--float64-out also writes the float64 reference frame (DIR/<size>/reference64.npy) and its deviation from float32
("noise_floor": {"max_abs": .., "mean_abs": ..}), the noise floor next to which the Swift parity figure is read.
--reference-only computes one reference frame (untimed parts skipped), as the CI parity check needs. Progress goes
to stderr.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from tools import convert, synth_checkpoint
from tools.reference import renderer, renderer_frame
from tools.reference.renderer_config import RendererConfig


def log(text):
    print(f"bench_renderer: {text}", file=sys.stderr, flush=True)


def prepare(work, size):
    cfg = RendererConfig() if size == "full" else RendererConfig.small()
    base = os.path.join(work, size)
    bundle, inputs = os.path.join(base, "bundle"), os.path.join(base, "inputs")
    if not os.path.isfile(os.path.join(bundle, "manifest.json")):
        ckpt = os.path.join(base, "checkpoint")
        log(f"synthetic {size} person checkpoint → {ckpt}")
        synth_checkpoint.write_person(ckpt, cfg, seed=3)
        log(f"convert.py person → {bundle}")
        os.makedirs(bundle, exist_ok=True)
        if convert.main(["person", "--checkpoint", ckpt, "--out", bundle, "--name", f"synthetic_{size}"]) != 0:
            raise SystemExit("bench_renderer: conversion failed")
        for f in os.listdir(ckpt):
            os.remove(os.path.join(ckpt, f))
        os.rmdir(ckpt)
    if not os.path.isfile(os.path.join(inputs, "camera.npy")):
        x = renderer.random_inputs(cfg, seed=11)
        shapes = renderer.input_shapes(cfg)
        g = torch.Generator().manual_seed(12)
        x["rand_stratified"] = torch.rand(shapes["rand_stratified"], generator=g)
        x["rand_importance"] = torch.rand(shapes["rand_importance"], generator=g)
        renderer_frame.write_inputs(inputs, x)
    return base, bundle, inputs


def best(fn, repeats):
    fn()   # warm-up (allocator, thread pool)
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--size", choices=("full", "small"), default="full")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-torch", action="store_true", help="prepare the bundle and inputs only")
    ap.add_argument("--float64-out", action="store_true")
    ap.add_argument("--reference-only", action="store_true", help="one reference frame, no per-module timing")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    base, bundle, inputs_dir = prepare(args.work, args.size)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "bundle": bundle, "inputs": inputs_dir,
              "seconds": {}}
    if not args.no_torch:
        cfg, tensors, identity = renderer_frame.load_bundle(bundle)
        x, draws = renderer_frame.read_inputs(inputs_dir, cfg, identity)
        rs, ri = draws["rand_stratified"], draws["rand_importance"]
        ref = renderer.Renderer(cfg, tensors)
        M = cfg.nerf_res ** 2
        with torch.no_grad():
            if args.reference_only:
                log("PyTorch reference frame")
                t = time.perf_counter()
                out = ref.frame(x, rs, ri)
                np.save(os.path.join(base, "reference.npy"), out["image"].numpy().astype("<f4"))
                result["reference"] = os.path.join(base, "reference.npy")
                result["seconds"] = {"frame": time.perf_counter() - t}
                print(json.dumps(result))
                return 0
            log(f"PyTorch reference frame ({args.repeats}×, {torch.get_num_threads()} threads)")
            out, frame_s = best(lambda: ref.frame(x, rs, ri), args.repeats)
            secc = torch.cat([x[n] for n in (("cond_cano", "cond_src", "cond_tgt") if cfg.secc_in == 9 else ("cond_cano", "cond_tgt"))], 1)
            raw, adapter_s = best(lambda: ref.t["learnable_triplane"] + ref.secc_planes_raw(secc), args.repeats)
            (feat, w, _), nerf_s = best(lambda: ref.nerf(raw, x["camera"], rs.view(1, M, -1, 1), ri.view(M, -1)), args.repeats)
            r = (cfg.sr_res,) * 2
            aa = dict(mode="bilinear", align_corners=False, antialias=True)
            resize = lambda t: torch.nn.functional.interpolate(t, size=r, **aa)
            _, torso_s = best(lambda: ref.torso(resize(x["ref_torso_img"]), x["segmap"], x["kp_s"], x["kp_d"],
                                                resize(feat[:, :3]), resize(w)), args.repeats)
            _, sr_total = best(lambda: ref.superres(feat, w, x, {}), args.repeats)
        np.save(os.path.join(base, "reference.npy"), out["image"].numpy().astype("<f4"))
        result["reference"] = os.path.join(base, "reference.npy")
        result["seconds"] = {"frame": frame_s, "adapter": adapter_s, "nerf": nerf_s, "torso": torso_s,
                             "sr": max(0.0, sr_total - torso_s)}
        if args.float64_out:
            log("float64 reference frame (noise floor)")
            with torch.no_grad():
                out64 = renderer.Renderer(cfg, tensors, torch.float64).frame(x, rs, ri)["image"]
            np.save(os.path.join(base, "reference64.npy"), out64.numpy().astype("<f4"))
            d = (out["image"].double() - out64).abs()
            result["noise_floor"] = {"max_abs": d.max().item(), "mean_abs": d.mean().item()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
