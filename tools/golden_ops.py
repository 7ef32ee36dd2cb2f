#!/usr/bin/python3
"""Golden outputs for operators whose conventions are subtle, computed by PyTorch itself.

Run with Debian's python3-torch:  /usr/bin/python3 -m tools.golden_ops
Writes Tests/AvatarVulkanTests/Golden/ops.safetensors (small, committed) so CI needs no PyTorch.
Inputs are generated with a fixed seed and stored next to the outputs.
"""
import os

import torch
import torch.nn.functional as F

from tools.reference import safetensors_io

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AvatarVulkanTests", "Golden", "ops.safetensors")


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
    # RMS norm (torch.nn.RMSNorm is newer than Debian's torch: written out) and LayerNorm eps 1e-6.
    t["norm.rms"] = nx * torch.rsqrt(nx.pow(2).mean(-1, keepdim=True) + 1e-6) * ng
    t["norm.layer_1e-6"] = F.layer_norm(nx, (13,), ng, None, eps=1e-6)

    # Resize of [C=3, 7, 9]: bilinear up (align_corners False/True) to 13x17, antialiased bilinear down
    # to 3x4 and 5x2, plain bilinear down, nearest up x2.
    rx = torch.randn(1, 3, 7, 9, generator=g)
    t["resize.input"] = rx[0]
    t["resize.bilinear_up"] = F.interpolate(rx, size=(13, 17), mode="bilinear", align_corners=False)[0]
    t["resize.bilinear_align_up"] = F.interpolate(rx, size=(13, 17), mode="bilinear", align_corners=True)[0]
    t["resize.bilinear_down"] = F.interpolate(rx, size=(3, 4), mode="bilinear", align_corners=False)[0]
    t["resize.antialias_down"] = F.interpolate(rx, size=(3, 4), mode="bilinear", align_corners=False, antialias=True)[0]
    t["resize.antialias_down2"] = F.interpolate(rx, size=(5, 2), mode="bilinear", align_corners=False, antialias=True)[0]
    t["resize.nearest_up"] = F.interpolate(rx, scale_factor=2, mode="nearest")[0]
    big = torch.randn(1, 2, 32, 24, generator=g)
    t["resize.big_input"] = big[0]
    t["resize.antialias_half"] = F.interpolate(big, size=(16, 12), mode="bilinear", align_corners=False, antialias=True)[0]

    # conv_transpose2d stride 2, k3, padding 1, output_padding 1, groups 2, bias (orientation of the kernel).
    tx = torch.randn(1, 4, 5, 6, generator=g)
    tw = torch.randn(4, 3, 3, 3, generator=g)
    tb = torch.randn(6, generator=g)
    t["conv_transpose2d.input"] = tx[0]
    t["conv_transpose2d.weight"] = tw
    t["conv_transpose2d.bias"] = tb
    t["conv_transpose2d.output"] = F.conv_transpose2d(tx, tw, tb, stride=2, padding=1, output_padding=1, groups=2)[0]

    # upfirdn2d as StyleGAN2 defines it (upfirdn2d_native), in torch ops: FIR [1,3,3,1]x[1,3,3,1]/64,
    # gain 4 (up 2), pads (2, 1) (skip upsample) and down 2 with pads (1, 1).
    def upfirdn2d(x, f, up, down, pad):
        c, h, w = x.shape[1:]
        y = x.reshape(-1, 1, h, 1, w, 1)
        y = F.pad(y, [0, up - 1, 0, 0, 0, up - 1])
        y = y.reshape(-1, 1, h * up, w * up)
        y = F.pad(y, [max(pad[0], 0), max(pad[1], 0), max(pad[0], 0), max(pad[1], 0)])
        y = y[:, :, max(-pad[0], 0): y.shape[2] - max(-pad[1], 0), max(-pad[0], 0): y.shape[3] - max(-pad[1], 0)]
        y = F.conv2d(y, torch.flip(f, [0, 1])[None, None])
        y = y.reshape(-1, c, y.shape[2], y.shape[3])
        return y[:, :, ::down, ::down]
    fx = torch.randn(1, 2, 7, 5, generator=g)
    k1 = torch.tensor([1.0, 3.0, 3.0, 1.0])
    fir = torch.outer(k1, k1)
    fir = fir / fir.sum()
    asym = torch.randn(4, 3, generator=g)  # a non-symmetric filter pins the flip
    t["upfirdn2d.input"] = fx[0]
    t["upfirdn2d.fir_gain4"] = fir * 4
    t["upfirdn2d.asym"] = asym
    t["upfirdn2d.up2_pad21"] = upfirdn2d(fx, fir * 4, 2, 1, (2, 1))[0]
    t["upfirdn2d.down2_pad11"] = upfirdn2d(fx, fir, 1, 2, (1, 1))[0]
    t["upfirdn2d.asym_up2_pad_neg"] = upfirdn2d(fx, asym, 2, 1, (1, -1))[0]

    # grid_sample 3-D trilinear: input [C=2, D=5, H=6, W=7], grid [P=11, 3] reaching outside [-1, 1].
    gx = torch.randn(1, 2, 5, 6, 7, generator=g)
    g3 = torch.rand(1, 1, 1, 11, 3, generator=g) * 2.6 - 1.3
    t["grid_sample3d.input"] = gx[0]
    t["grid_sample3d.grid"] = g3[0, 0, 0]
    for padding in ("zeros", "border"):
        for align in (False, True):
            y = F.grid_sample(gx, g3, mode="bilinear", padding_mode=padding, align_corners=align)
            t[f"grid_sample3d.{padding}.{'align' if align else 'noalign'}"] = y[0, :, 0, 0, :]

    # Pooling with padding: max (padding = -inf) and avg (count_include_pad=True).
    px = torch.randn(1, 3, 7, 9, generator=g)
    t["pool.input"] = px[0]
    t["pool.max_k3s2p1"] = F.max_pool2d(px, 3, 2, 1)[0]
    t["pool.avg_k3s2p1"] = F.avg_pool2d(px, 3, 2, 1)[0]
    t["pool.avg_k2s2"] = F.avg_pool2d(px, 2, 2)[0]
    # The importance sampler's 1-D chain: max_pool1d(k2, s1, p1) then avg_pool1d(k2, s1).
    w1 = torch.rand(5, 1, 47, generator=g)
    t["pool1d.input"] = w1[:, 0]
    t["pool1d.chain"] = F.avg_pool1d(F.max_pool1d(w1, 2, 1, padding=1), 2, 1)[:, 0]

    # Rotary (rotate-half) with theta 50000 at positions including -10000 (register tokens).
    dim = 8
    pos = torch.tensor([-10000.0, -10000.0, 0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    inv = 50000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    ang = pos[:, None] * inv[None]
    freqs = torch.cat([ang, ang], -1)
    rq = torch.randn(2, 7, dim, generator=g)
    def rotate_half(x):
        a, b = x.chunk(2, -1)
        return torch.cat([-b, a], -1)
    t["rotary.input"] = rq
    t["rotary.output"] = (rq.double() * freqs.cos() + rotate_half(rq.double()) * freqs.sin()).float()

    # Sort / cumsum / cumprod / searchsorted on ray-sized rows (96 and 47).
    sx = torch.randn(3, 96, generator=g)
    sx[0, 10] = sx[0, 20]  # a tie
    t["sort.input"] = sx
    sv, si = torch.sort(sx, dim=-1, stable=True)
    t["sort.values"] = sv
    t["sort.indices"] = si.float()
    cx = torch.rand(3, 47, generator=g)
    t["scan.input"] = cx
    t["scan.cumsum"] = torch.cumsum(cx, -1)
    t["scan.cumprod"] = torch.cumprod(cx, -1)
    bins = torch.sort(torch.rand(3, 47, generator=g) * 4, -1).values
    q = torch.rand(3, 48, generator=g) * 4.4 - 0.2
    q[0, :3] = bins[0, 5]  # exact hits distinguish left and right
    t["searchsorted.sorted"] = bins
    t["searchsorted.values"] = q
    t["searchsorted.left"] = torch.searchsorted(bins, q, right=False).float()
    t["searchsorted.right"] = torch.searchsorted(bins, q, right=True).float()

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    safetensors_io.write(OUT, t)
    print(f"wrote {OUT}: {len(t)} tensors, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
