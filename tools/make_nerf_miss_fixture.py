#!/usr/bin/python3
"""Writes Tests/Fixtures/renderer/small_nerf_miss.safetensors: the NeRF of the `small` fixture seen by a wide-angle
camera whose corner rays miss the [−box/2, box/2]³ box, so the ray–box quirk (renderer.py `ray_limits`: invalid
rays start at the minimum valid start and end at the maximum valid *start*) shapes the output.

  /usr/bin/python3 -m tools.make_nerf_miss_fixture   (after tools.make_renderer_fixtures; reads small/ and
                                                      small_frame.safetensors, changes neither)

Tensors (float64 reference rounded to float32): camera [1, 25] (focal 2.0), invalid [M] (1 where the ray misses,
before the quirk), ray_start, ray_end [M] (after the quirk), feature_image [1, hid, R, R], weights_image,
depth_image [1, 1, R, R]. planes_raw and the draws are the small frame's.
"""
import os

import numpy as np
import torch

from tools.reference import renderer, renderer_frame, safetensors_io

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "renderer")


def main():
    cfg, tensors, _ = renderer_frame.load_bundle(os.path.join(FIXTURES, "small"))
    frame = safetensors_io.load_arrays(os.path.join(FIXTURES, "small_frame.safetensors"))[0]
    ref = renderer.Renderer(cfg, tensors, dtype=torch.float64)
    camera = renderer.synthetic_camera(euler=(0.05, -0.1, 0.02), focal=2.0)
    planes = torch.from_numpy(frame["planes_raw"]).to(torch.float64)
    rs = torch.from_numpy(frame["rand_stratified"])
    ri = torch.from_numpy(frame["rand_importance"])
    with torch.no_grad():
        o, d = ref.rays(camera)
        half = cfg.box_warp / 2
        t0, t1 = (-half - o) / d, (half - o) / d
        near, far = torch.minimum(t0, t1), torch.maximum(t0, t1)
        tmin, tmax = near.max(1).values, far.min(1).values
        start, end = ref.ray_limits(o, d)
        feature, weights, depth = ref.nerf(planes, camera, rs, ri)
    # The slab test's `ok` and end > start agree here; recompute end > start from ray_limits' own inputs.
    invalid = ~(tmax > tmin)
    assert 0 < int(invalid.sum()) < invalid.numel(), "the camera must make some (not all) rays miss"

    def f32(x):
        return np.ascontiguousarray(x.detach().to(torch.float64).numpy().astype(np.float32))

    out = {"camera": f32(camera), "invalid": f32(invalid.to(torch.float64)), "ray_start": f32(start), "ray_end": f32(end),
           "feature_image": f32(feature), "weights_image": f32(weights), "depth_image": f32(depth)}
    path = os.path.join(FIXTURES, "small_nerf_miss.safetensors")
    safetensors_io.save_arrays(path, out)
    print(f"{path}: {int(invalid.sum())} of {invalid.numel()} rays miss the box")


if __name__ == "__main__":
    main()
