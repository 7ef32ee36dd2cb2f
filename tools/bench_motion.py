#!/usr/bin/python3
"""PyTorch baselines for `avatard bench motion`: the reference models of tools/reference doing the same
per-window work as the Swift port, timed on the same machine in the same run.

Usage: /usr/bin/python3 -m tools.bench_motion --cases JSON
JSON is a list of cases, each one of
  {"name": ..., "model": "hubert", "config": {HubertConfig fields}, "samples": N}
  {"name": ..., "model": "ics_a2m", "config": {A2MConfig fields}, "prompt": P, "targets": T, "steps": S, "cfg_scale": C}
Prints one JSON object {"torch": version, "threads": n, "seconds": {name: best seconds}}. Weights are the
deterministic recipe (timing does not depend on their values).
"""
import argparse
import json
import os
import sys
import time

import torch

from tools.reference import a2m, hubert, weights


def timed(fn, repeats=10):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def hubert_case(case):
    cfg = hubert.HubertConfig(**case["config"])
    model = hubert.Hubert(cfg, weights.generate_all(hubert.recipe(cfg)))
    wave = torch.randn(int(case["samples"]), generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        return timed(lambda: model.features(wave))


def a2m_case(case):
    cfg = a2m.A2MConfig.from_manifest(case["config"])
    tensors = weights.generate_all(a2m.recipe(cfg))
    tensors["rotary.inv_freq"] = a2m.rotary_inv_freq(cfg)
    model = a2m.A2M(cfg, tensors)
    g = torch.Generator().manual_seed(0)
    P, T = int(case["prompt"]), int(case["targets"])
    feats = torch.randn(2 * T, cfg.audio_dim, generator=g)
    style = None
    if P > 0:
        style = a2m.Style(torch.randn(P, cfg.motion_dim, generator=g), torch.randn(2 * P, cfg.audio_dim, generator=g))
    noise = torch.randn(P + T, cfg.motion_dim, generator=g)
    with torch.no_grad():
        return timed(lambda: a2m.sample(model, feats, style=style, noise=noise, steps=int(case["steps"]),
                                        cfg_scale=float(case["cfg_scale"]), temperature=0.3))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", required=True, help="JSON list of cases (see above)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seconds = {}
    for case in json.loads(args.cases):
        run = hubert_case if case["model"] == "hubert" else a2m_case
        seconds[case["name"]] = run(case)
        print(f"{case['name']}: {seconds[case['name']] * 1000:.1f} ms", file=sys.stderr)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": seconds}))


if __name__ == "__main__":
    main()
