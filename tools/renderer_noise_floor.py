#!/usr/bin/python3
"""Full-size MimicTalk renderer frame from a synthetic person checkpoint of the official layout: the float32 vs
float64 noise floor of the functional reference, its agreement with the module tree on the unfolded checkpoint,
and the PyTorch CPU times (figures recorded in docs/renderer.md).

  /usr/bin/python3 -m tools.renderer_noise_floor [--work DIR] [--threads N] [--skip-module-tree]
"""
import argparse
import os
import sys
import tempfile
import time

import torch

from tools import convert
from tools import synth_checkpoint as synth
from tools.reference import safetensors_io
from tools.reference.renderer import Renderer, input_shapes, random_inputs, to_uint8
from tools.reference.renderer_config import RendererConfig


def stats(a, b):
    d = (a.double() - b.double()).abs()
    return f"max|Δ| {float(d.max()):.3e}  mean|Δ| {float(d.mean()):.3e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip-module-tree", action="store_true")
    ap.add_argument("--skip-float64", action="store_true")
    ap.add_argument("--repeat", type=int, default=0, help="then time N more fp32 frames of each implementation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = args.work or tempfile.mkdtemp()
    cfg = RendererConfig()
    t = time.time()
    model, tri, _ = synth.write_person(os.path.join(work, "person"), cfg, seed=7)
    print(f"synthetic checkpoint: {time.time() - t:.1f} s", flush=True)
    t = time.time()
    rc = convert.main(["person", "--checkpoint", os.path.join(work, "person"), "--out", os.path.join(work, "bundle"),
                       "--quiet"])
    assert rc == 0
    print(f"conversion: {time.time() - t:.1f} s", flush=True)
    tensors = safetensors_io.read(os.path.join(work, "bundle", "renderer.safetensors"))
    inputs = random_inputs(cfg, seed=8)
    g = torch.Generator().manual_seed(9)
    sh = input_shapes(cfg)
    rs, ri = torch.rand(sh["rand_stratified"], generator=g), torch.rand(sh["rand_importance"], generator=g)
    res = {}
    with torch.no_grad():
        for dtype in (torch.float32,) if args.skip_float64 else (torch.float32, torch.float64):
            r = Renderer(cfg, tensors, dtype)
            t = time.time()
            res[dtype] = r.frame(inputs, rs, ri)
            print(f"functional {dtype}: {time.time() - t:.1f} s", flush=True)
        for k in ("planes", "feature_image", "weights_image", "depth_image", "torso_alpha", "sr_image", "image"):
            if args.skip_float64:
                break
            print(f"  fp32 vs fp64 {k:14s} {stats(res[torch.float32][k], res[torch.float64][k])}", flush=True)
        if args.skip_float64:
            res[torch.float64] = {k: v.double() for k, v in res[torch.float32].items()}
        u32, u64 = to_uint8(res[torch.float32]["image"]), to_uint8(res[torch.float64]["image"].float())
        print(f"  uint8 frames differ at {int((u32 != u64).sum())} of {u32.numel()} values "
              f"(max {int((u32.int() - u64.int()).abs().max())})")
        w = res[torch.float64]["weights_image"]
        print(f"  head alpha: mean {float(w.mean()):.3f}, min {float(w.min()):.3f}, max {float(w.max()):.3f}")
        if not args.skip_module_tree:
            t = time.time()
            ref = model.eval()(tri, inputs, rs, ri)
            print(f"module tree fp32 (unfolded checkpoint): {time.time() - t:.1f} s", flush=True)
            for k in ("planes", "feature_image", "sr_image", "image"):
                print(f"  functional fp32 vs module tree fp32 {k:14s} {stats(res[torch.float32][k], ref[k])}")
                print(f"  functional fp64 vs module tree fp32 {k:14s} {stats(res[torch.float64][k], ref[k])}")
        times = {"functional": [], "module tree": []}
        r = Renderer(cfg, tensors)
        for _ in range(args.repeat):
            t = time.time()
            r.frame(inputs, rs, ri)
            times["functional"].append(time.time() - t)
            t = time.time()
            model(tri, inputs, rs, ri)
            times["module tree"].append(time.time() - t)
        for k, v in times.items():
            if v:
                print(f"{k} fp32 frame times: {', '.join(f'{x:.1f}' for x in v)} s (min {min(v):.1f})")


if __name__ == "__main__":
    main()

