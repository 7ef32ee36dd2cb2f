#!/usr/bin/python3
"""Golden outputs for operators whose conventions are subtle, computed by PyTorch itself.

Run with Debian's python3-torch:  /usr/bin/python3 tools/golden_ops.py
Writes Tests/AvatarVulkanTests/Golden/ops.safetensors (small, committed) so CI needs no PyTorch.
Inputs are generated with a fixed seed and stored next to the outputs.
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AvatarVulkanTests", "Golden", "ops.safetensors")


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().to(torch.float32)
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    g = torch.Generator().manual_seed(1234)
    t = {}
    # grid_sample 2-D: input [1, C=3, H=7, W=9], grid [1, 1, P=13, 2] reaching outside [-1, 1].
    x = torch.randn(1, 3, 7, 9, generator=g)
    grid = (torch.rand(1, 1, 13, 2, generator=g) * 2.6 - 1.3)
    t["grid_sample.input"] = x[0]
    t["grid_sample.grid"] = grid[0, 0]
    for padding in ("zeros", "border"):
        for align in (False, True):
            y = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=align)
            t[f"grid_sample.{padding}.{'align' if align else 'noalign'}"] = y[0, :, 0, :]
    # Activations with PyTorch's exact definitions.
    v = torch.linspace(-25, 25, 301)
    t["act.input"] = v
    t["act.gelu"] = F.gelu(v)
    t["act.silu"] = F.silu(v)
    t["act.softplus"] = F.softplus(v)
    t["act.sigmoid"] = torch.sigmoid(v)
    t["act.tanh"] = torch.tanh(v)
    t["act.leaky_relu"] = F.leaky_relu(v, 0.2)
    # Conv2d with stride 2, padding 1, groups 2 (orientation of the kernel).
    cx = torch.randn(1, 4, 9, 7, generator=g)
    cw = torch.randn(6, 2, 3, 3, generator=g)
    cb = torch.randn(6, generator=g)
    t["conv2d.input"] = cx[0]
    t["conv2d.weight"] = cw
    t["conv2d.bias"] = cb
    t["conv2d.output"] = F.conv2d(cx, cw, cb, stride=2, padding=1, groups=2)[0]
    # LayerNorm and F.normalize-style RMS norm.
    nx = torch.randn(5, 13, generator=g)
    ng = torch.randn(13, generator=g)
    nb = torch.randn(13, generator=g)
    t["norm.input"] = nx
    t["norm.gamma"] = ng
    t["norm.beta"] = nb
    t["norm.layer"] = F.layer_norm(nx, (13,), ng, nb, eps=1e-5)
    t["norm.l2"] = F.normalize(nx, dim=-1, eps=1e-12) * (13 ** 0.5) * ng
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, t)
    print(f"wrote {OUT}: {len(t)} tensors, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
