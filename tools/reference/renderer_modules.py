"""The MimicTalk renderer as a torch.nn module tree whose state_dict has the official checkpoint key layout
(`state_dict['model']` of a person checkpoint, spec §6.3), written from the upstream semantics (never copied).

Used (1) by synth_checkpoint.py to produce official-layout person checkpoints and (2) as the independent side of
the checks: it runs on the *unfolded* parameters the way upstream does at inference — LoRA deltas added in forward
(ConvLoRA merged, StyleGAN layers every call), spectral norm from the stored u and v, BatchNorm in eval mode,
StyleGAN modulation and demodulation computed from ws = 1 every call, conv_transpose2d + FIR for the up-sampling
layers, explicit plane flips — while renderer.py runs the converted (folded) bundle tensors.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .renderer_config import RendererConfig

SQRT2 = math.sqrt(2.0)


# ------------------------------------------------------------------------------------------- StyleGAN building blocks
def fir_filter():
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn(x, f, up, pad, gain):
    """Zero-insert by `up`, pad (x0, x1, y0, y1) with zeros, convolve (true convolution) with f·gain."""
    N, C, H, W = x.shape
    if up > 1:
        z = x.new_zeros(N, C, H * up, W * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, list(pad))
    k = (f * gain).flip([0, 1]).to(x.dtype)[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(x, k, groups=C)


class FullyConnectedLayer(nn.Module):
    def __init__(self, cin, cout, bias_init=0.0, lora_r=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.full([cout], float(bias_init)))
        self.gain = 1.0 / math.sqrt(cin)
        self.lora_r = lora_r
        if lora_r:
            self.lora_A = nn.Parameter(torch.zeros(lora_r, cin))
            self.lora_B = nn.Parameter(torch.zeros(cout, lora_r))

    def effective_weight(self):
        w = self.weight * self.gain
        if self.lora_r:
            w = w + self.lora_B @ self.lora_A * (1.0 / self.lora_r)
        return w

    def forward(self, x):
        return torch.addmm(self.bias.unsqueeze(0), x, self.effective_weight().t())


class Conv2dLayer(nn.Module):
    """StyleGAN2 Conv2dLayer, linear activation, up = down = 1 (the SECC prenet)."""

    def __init__(self, cin, cout, k, lora_r=0):
        super().__init__()
        self.register_buffer("resample_filter", fir_filter())
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.gain = 1.0 / math.sqrt(cin * k * k)
        self.lora_r, self.k = lora_r, k
        if lora_r:
            self.lora_A = nn.Parameter(torch.zeros(lora_r * k, cin * k))
            self.lora_B = nn.Parameter(torch.zeros(cout * k, lora_r * k))

    def forward(self, x):
        w = self.weight * self.gain
        if self.lora_r:
            w = w + (self.lora_B @ self.lora_A).view(self.weight.shape) * (1.0 / self.lora_r)
        return F.conv2d(x, w, padding=self.k // 2) + self.bias.view(1, -1, 1, 1)


class SynthesisLayer(nn.Module):
    def __init__(self, cin, cout, w_dim, resolution, up=1, lora_r=0, k=3):
        super().__init__()
        self.up, self.k = up, k
        self.register_buffer("resample_filter", fir_filter())
        self.affine = FullyConnectedLayer(w_dim, cin, bias_init=1.0, lora_r=lora_r)
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.lora_r = lora_r
        if lora_r:
            self.lora_A = nn.Parameter(torch.zeros(lora_r * k, cin * k))
            self.lora_B = nn.Parameter(torch.zeros(cout * k, lora_r * k))

    def forward(self, x, w):
        styles = self.affine(w)                                   # [1, cin]; noise_mode 'none'
        weight = self.weight
        if self.lora_r:
            weight = weight + (self.lora_B @ self.lora_A).view(weight.shape) * (1.0 / self.lora_r)
        wm = weight[None] * styles.reshape(1, 1, -1, 1, 1)
        d = (wm.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        wm = (wm * d.reshape(1, -1, 1, 1, 1))[0]
        if self.up == 1:
            x = F.conv2d(x, wm, padding=self.k // 2)
        else:  # conv2d_resample: transposed conv (stride 2, no padding) then FIR with pad 1 and gain 4
            x = F.conv_transpose2d(x, wm.transpose(0, 1), stride=2)
            x = upfirdn(x, self.resample_filter, 1, (1, 1, 1, 1), 4.0)
        x = x + self.bias.view(1, -1, 1, 1)
        return F.leaky_relu(x, 0.2) * SQRT2


class ToRGBLayer(nn.Module):
    def __init__(self, cin, cout, w_dim, lora_r=0):
        super().__init__()
        self.affine = FullyConnectedLayer(w_dim, cin, bias_init=1.0)   # no LoRA upstream
        self.weight = nn.Parameter(torch.randn(cout, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.gain = 1.0 / math.sqrt(cin)
        self.lora_r = lora_r
        if lora_r:
            self.lora_A = nn.Parameter(torch.zeros(lora_r, cin))
            self.lora_B = nn.Parameter(torch.zeros(cout, lora_r))

    def forward(self, x, w):
        styles = self.affine(w) * self.gain
        weight = self.weight
        if self.lora_r:
            weight = weight + (self.lora_B @ self.lora_A).view(weight.shape) * (1.0 / self.lora_r)
        wm = (weight[None] * styles.reshape(1, 1, -1, 1, 1))[0]
        return F.conv2d(x, wm) + self.bias.view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """architecture 'skip'; up=True: SynthesisBlock (conv0 up-samples), False: SynthesisBlockNoUp."""

    def __init__(self, cin, cout, w_dim, resolution, up, lora_r=0, torgb_lora=True):
        super().__init__()
        self.up = up
        self.register_buffer("resample_filter", fir_filter())
        self.conv0 = SynthesisLayer(cin, cout, w_dim, resolution, up=2 if up else 1, lora_r=lora_r)
        self.conv1 = SynthesisLayer(cout, cout, w_dim, resolution, lora_r=lora_r)
        self.torgb = ToRGBLayer(cout, 3, w_dim, lora_r=lora_r if torgb_lora else 0)

    def forward(self, x, img, ws):
        w = ws[:, 0]
        x = self.conv0(x, w)
        x = self.conv1(x, w)
        if img is not None and self.up:
            img = upfirdn(img, self.resample_filter, 2, (2, 1, 2, 1), 4.0)
        y = self.torgb(x, w)
        return x, (img + y if img is not None else y)


# -------------------------------------------------------------------------------------------------- SECC2Plane
class OverlapPatchEmbed(nn.Module):
    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, k, s, k // 2)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x):
        x = self.proj(x)
        _, _, H, W = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)), H, W


class Attention(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.heads, self.sr_ratio = heads, sr
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if sr > 1:
            self.sr = nn.Conv2d(dim, dim, sr, sr)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        h = self.heads
        q = self.q(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            t = self.sr(x.permute(0, 2, 1).reshape(B, C, H, W)).reshape(B, C, -1).permute(0, 2, 1)
            t = self.norm(t)
        else:
            t = x
        kv = self.kv(t).reshape(B, -1, 2, h, C // h).permute(2, 0, 3, 1, 4)
        a = (q @ kv[0].transpose(-2, -1)) * (C // h) ** -0.5
        return self.proj((a.softmax(-1) @ kv[1]).transpose(1, 2).reshape(B, N, C))


class DWConv(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        return self.dwconv(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DWConv(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, H, W):
        return self.fc2(F.gelu(self.dwconv(self.fc1(x), H, W)))


class Block(nn.Module):
    def __init__(self, dim, heads, sr, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, sr)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x, H, W):
        x = x + self.attn(self.norm1(x), H, W)
        return x + self.mlp(self.norm2(x), H, W)


class MixVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        dims = c.mit_dims
        for i in range(4):
            cin = 3 if i == 0 else dims[i - 1]
            setattr(self, f"patch_embed{i + 1}", OverlapPatchEmbed(cin, dims[i], 7 if i == 0 else 3, 4 if i == 0 else 2))
            setattr(self, f"block{i + 1}", nn.ModuleList(
                [Block(dims[i], c.mit_heads[i], c.mit_sr[i], c.mlp_ratio) for _ in range(c.mit_depths[i])]))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(dims[i], eps=1e-6))

    def forward(self, x):
        outs = []
        for i in range(1, 5):
            x, H, W = getattr(self, f"patch_embed{i}")(x)
            for blk in getattr(self, f"block{i}"):
                x = blk(x, H, W)
            x = getattr(self, f"norm{i}")(x)
            x = x.reshape(x.shape[0], H, W, -1).permute(0, 3, 1, 2)
            outs.append(x)
        return outs


class ConvModule(nn.Module):
    """mmcv ConvModule(k=1, norm BN): conv without bias, BatchNorm, ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class SegFormerHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        for i, d in enumerate(c.mit_dims):
            m = nn.Module()
            m.proj = nn.Linear(d, c.head_dim)
            setattr(self, f"linear_c{i + 1}", m)
        self.linear_fuse = ConvModule(4 * c.head_dim, c.head_dim)

    def forward(self, feats):
        size = feats[0].shape[2:]
        outs = []
        for i in (4, 3, 2, 1):
            f = feats[i - 1]
            n, _, h, w = f.shape
            y = getattr(self, f"linear_c{i}").proj(f.flatten(2).transpose(1, 2)).permute(0, 2, 1).reshape(n, -1, h, w)
            if i != 1:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            outs.append(y)
        return self.linear_fuse(torch.cat(outs, dim=1))


class LoRAConv2d(nn.Module):
    """ConvLoRA: `weight` and `conv.weight` are the same tensor (both in the state dict); eval merges B@A/r."""

    def __init__(self, cin, cout, k, lora_r):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, 1, k // 2)
        self.weight = self.conv.weight
        self.bias = self.conv.bias
        self.lora_r = lora_r
        self.lora_A = nn.Parameter(torch.zeros(lora_r * k, cin * k))
        self.lora_B = nn.Parameter(torch.zeros(cout * k, lora_r * k))

    def forward(self, x):
        w = self.conv.weight + (self.lora_B @ self.lora_A).view(self.conv.weight.shape) * (1.0 / self.lora_r)
        return F.conv2d(x, w, self.conv.bias, padding=self.conv.padding)


class SECC2PlaneBackbone(nn.Module):
    def __init__(self, c, lora_r):
        super().__init__()
        self.c = c
        self.prenet = Conv2dLayer(c.secc_in, 3, 1, lora_r=lora_r)
        self.mix_vit = MixVisionTransformer(c)
        self.fuse_head = SegFormerHead(c)
        conv = (lambda i, o: LoRAConv2d(i, o, 3, lora_r)) if lora_r else (lambda i, o: nn.Conv2d(i, o, 3, 1, 1))
        p = c.plane_cnn
        self.to_plane_cnn = nn.Sequential(
            conv(c.head_dim, p), nn.LeakyReLU(0.01), conv(p, p), nn.LeakyReLU(0.01), conv(p, p), nn.LeakyReLU(0.01),
            nn.UpsamplingBilinear2d(scale_factor=2.0), conv(p, 3 * c.plane_ch))

    def forward(self, x):
        planes = self.to_plane_cnn(self.fuse_head(self.mix_vit(self.prenet(x))))
        planes = planes.view(len(planes), 3, -1, planes.shape[-2], planes.shape[-1])
        return torch.stack([planes[:, 0].flip([2]), planes[:, 1].flip([2]), planes[:, 2].flip([2, 3])], dim=1)


class OSGDecoder(nn.Module):
    def __init__(self, c, lora_r=0):
        super().__init__()
        self.net = nn.Sequential(FullyConnectedLayer(c.hid, c.decoder_hidden, lora_r=lora_r), nn.Softplus(),
                                 FullyConnectedLayer(c.decoder_hidden, 1 + c.hid, lora_r=lora_r))

    def forward(self, sampled):  # [N, 3, M, C]
        x = self.net(sampled.mean(1)[0])
        return torch.sigmoid(x[:, 1:]) * (1 + 2 * 0.001) - 0.001, x[:, :1]


# ------------------------------------------------------------------------------------------------- torso model
class ConvBlock(nn.Module):
    """facev2v _ConvBlock: `layers` is a Sequential in pattern order (C = conv, N = BatchNorm, A = activation)."""

    def __init__(self, pattern, cin, cout, k, pad, dim=2, sn=False, act="relu"):
        super().__init__()
        conv = (nn.Conv2d if dim == 2 else nn.Conv3d)(cin, cout, k, 1, pad)
        if sn:
            conv = nn.utils.spectral_norm(conv)
        bn_ch = cout if pattern.find("C") < pattern.find("N") else cin
        mods = {"C": conv, "N": (nn.BatchNorm2d if dim == 2 else nn.BatchNorm3d)(bn_ch),
                "A": nn.ReLU() if act == "relu" else nn.LeakyReLU(0.2)}
        self.layers = nn.Sequential(*[mods[p] for p in pattern])

    def forward(self, x):
        return self.layers(x)


class Res(nn.Module):
    def __init__(self, ch, dim=2, sn=False):
        super().__init__()
        self.layers = nn.Sequential(ConvBlock("NAC", ch, ch, 3, 1, dim, sn), ConvBlock("NAC", ch, ch, 3, 1, dim, sn))

    def forward(self, x):
        return x + self.layers(x)


class Down(nn.Module):
    def __init__(self, cin, cout, dim=2):
        super().__init__()
        self.layers = nn.Sequential(ConvBlock("CNA", cin, cout, 3, 1, dim),
                                    nn.AvgPool2d(2) if dim == 2 else nn.AvgPool3d((1, 2, 2)))

    def forward(self, x):
        return self.layers(x)


class Up(nn.Module):
    def __init__(self, cin, cout, dim=2, sn=False):
        super().__init__()
        self.layers = nn.Sequential(nn.Upsample(scale_factor=2 if dim == 2 else (1, 2, 2)),
                                    ConvBlock("CNA", cin, cout, 3, 1, dim, sn))

    def forward(self, x):
        return self.layers(x)


class AppearanceFeatureExtractor(nn.Module):
    def __init__(self, c):
        super().__init__()
        a = c.app_ch
        self.c = c
        self.in_conv = ConvBlock("CNA", c.torso_in, a[0], 7, 3)
        self.down = nn.Sequential(*[Down(a[i], a[i + 1]) for i in range(len(a) - 1)])
        self.mid_conv = nn.Conv2d(a[-1], c.app_c * c.app_d, 1)
        self.res = nn.Sequential(*[Res(c.app_c, 3) for _ in range(c.app_res)])

    def forward(self, x):
        x = self.mid_conv(self.down(self.in_conv(x)))
        return self.res(x.view(x.shape[0], self.c.app_c, self.c.app_d, x.shape[2], x.shape[3]))


def coordinate_grid_3d(d, h, w, dtype):
    z = 2 * (torch.arange(d, dtype=dtype) / (d - 1)) - 1
    y = 2 * (torch.arange(h, dtype=dtype) / (h - 1)) - 1
    x = 2 * (torch.arange(w, dtype=dtype) / (w - 1)) - 1
    zz, yy, xx = torch.meshgrid(z, y, x, indexing="ij")
    return torch.stack([xx, yy, zz], dim=-1)  # [d, h, w, 3] in grid_sample (x, y, z) order


class MotionFieldEstimator(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        down = (c.motion_in,) + tuple(c.hg_down)
        up = (c.hg_down[-1],) + tuple(c.hg_up)
        self.compress = nn.Conv3d(c.app_c + 2, 4, 1)
        self.down = nn.Sequential(*[Down(down[i], down[i + 1], 3) for i in range(len(down) - 1)])
        self.up = nn.Sequential(*[Up(up[i], up[i + 1], 3) for i in range(len(up) - 1)])
        self.tgt_head_encoder = nn.Sequential(ConvBlock("CNA", 4, c.head_hid, 7, 3),
                                              *[Res(c.head_hid) for _ in range(c.head_res)])
        self.tgt_head_fuser = nn.Conv3d(c.fuser_in, c.head_hid, 7, 1, 3)
        self.mask_conv = nn.Conv3d(c.head_hid, c.kp_num + 1, 7, 1, 3)
        self.occlusion_conv = nn.Conv2d(c.head_hid * c.app_d, 1, 7, 1, 3)
        self.occlusion_conv2 = nn.Conv2d(c.head_hid * c.app_d, 1, 7, 1, 3)

    def forward(self, fs, kp_s, kp_d, head_img, head_w):
        c = self.c
        fc = self.compress(fs)
        N, _, D, H, W = fc.shape
        K = kp_s.shape[1]
        grid = coordinate_grid_3d(D, H, W, fs.dtype)
        gauss = lambda kp: torch.exp(-0.5 * ((grid[None, None] - kp.reshape(N, K, 1, 1, 1, 3)) ** 2).sum(-1)
                                     / c.kp_variance)
        heat = torch.cat([fc.new_zeros(N, 1, D, H, W), gauss(kp_d) - gauss(kp_s)], dim=1).unsqueeze(2)
        motions = torch.cat([grid[None, None].expand(N, 1, D, H, W, 3),
                             grid[None, None] - kp_d.reshape(N, K, 1, 1, 1, 3) + kp_s.reshape(N, K, 1, 1, 1, 3)], 1)
        src = fc.unsqueeze(1).repeat(1, K + 1, 1, 1, 1, 1).reshape(N * (K + 1), -1, D, H, W)
        deformed = F.grid_sample(src, motions.reshape(N * (K + 1), D, H, W, 3), align_corners=True)
        inp = torch.cat([heat, deformed.reshape(N, K + 1, -1, D, H, W)], dim=2).view(N, -1, D, H, W)
        x = torch.cat([inp, self.up(self.down(inp))], dim=1)
        h = F.interpolate(torch.cat([head_img, head_w], 1), size=(c.head_res_px,) * 2, mode="bilinear")
        h = F.interpolate(self.tgt_head_encoder(h), size=(c.torso_res,) * 2, mode="bilinear")
        x = self.tgt_head_fuser(torch.cat([x, h.unsqueeze(2).repeat(1, 1, D, 1, 1)], dim=1))
        mask = F.softmax(self.mask_conv(x), dim=1).unsqueeze(-1)
        deformation = (motions * mask).sum(dim=1)
        flat = x.view(N, -1, H, W)
        return deformation, torch.sigmoid(self.occlusion_conv(flat)), torch.sigmoid(self.occlusion_conv2(flat))


class Generator(nn.Module):
    def __init__(self, c):
        super().__init__()
        g = c.gen_ch
        self.in_conv = ConvBlock("CNA", c.app_c * c.app_d, g[0], 3, 1, sn=True, act="leakyrelu")
        self.mid_conv = nn.Conv2d(g[0], g[0], 1)
        self.res = nn.Sequential(*[Res(g[0], sn=True) for _ in range(c.gen_res)])
        self.up = nn.Sequential(*[Up(g[i], g[i + 1], sn=True) for i in range(len(g) - 1)])
        self.out_conv = nn.Conv2d(g[-1], 3, 7, 1, 3)

    def forward(self, fs, deformation):
        N, _, D, H, W = fs.shape
        x = F.grid_sample(fs, deformation, align_corners=True, padding_mode="border").view(N, -1, H, W)
        hid = self.up(self.res(self.mid_conv(self.in_conv(x))))
        return self.out_conv(hid), hid


def dilate(x, k):
    p = (k - 1) // 2
    return F.max_pool2d(F.pad(x, [p, p, p, p], mode="reflect"), k, 1)


class WarpBasedTorsoModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.appearance_extractor = AppearanceFeatureExtractor(c)
        self.motion_field_estimator = MotionFieldEstimator(c)
        self.deform_based_generator = Generator(c)
        self.occlusion_2_predictor = nn.Sequential(
            nn.Conv2d(c.gen_ch[-1] + 1, c.occ_hid, 3, 1, 1), nn.ReLU(), nn.Conv2d(c.occ_hid, c.occ_hid, 3, 1, 1),
            nn.ReLU(), nn.Conv2d(c.occ_hid, 1, 3, 1, 1), nn.Sigmoid())

    def forward(self, torso_img, segmap, kp_s, kp_d, head_img, head_w):
        c = self.c
        seg = segmap[:, [2, 4]]
        if c.torso_in == 5:
            torso_img = torch.cat([torso_img, F.interpolate(seg, size=torso_img.shape[-2:], mode="bilinear",
                                                            align_corners=False)], dim=1)
        fs = self.appearance_extractor(torso_img)
        seg64 = F.interpolate(seg, size=(c.torso_res,) * 2, mode="bilinear", align_corners=False)
        if c.mul_torso_mask:
            fs = fs * dilate(seg64.sum(dim=1, keepdim=True), c.dilate).unsqueeze(1)
        motion_in = torch.cat([fs, seg64.unsqueeze(2).repeat(1, 1, fs.shape[2], 1, 1)], dim=1)
        idx = c.kp_index
        deformation, occlusion, occ2 = self.motion_field_estimator(motion_in, kp_s[:, idx], kp_d[:, idx], head_img,
                                                                   head_w)
        deformation = deformation * 0.1 + deformation * 0.9   # upstream's gradient-scaling expression, kept
        occ2 = occ2 * 0.1 + occ2 * 0.9
        rgb, hid = self.deform_based_generator(fs, deformation)
        occ2 = self.occlusion_2_predictor(torch.cat([hid, F.interpolate(occ2, size=hid.shape[-2:], mode="bilinear")], 1))
        return rgb, hid, occ2


# ------------------------------------------------------------------------------------------- super-resolution
class SuperresolutionWarp(nn.Module):
    def __init__(self, c, lora_r):
        super().__init__()
        self.c = c
        s = c.sr_ch
        self.block0 = SynthesisBlock(c.hid, s, c.w_dim, c.sr_res, True, lora_r)
        self.block1 = SynthesisBlock(s, c.sr_last, c.w_dim, c.img, True, lora_r)
        self.torso_model = WarpBasedTorsoModel(c)
        self.torso_encoder = nn.Sequential(nn.Conv2d(c.gen_ch[-1], s, 1))
        self.bg_encoder = nn.Sequential(nn.Conv2d(3, c.bg_mid, 3, 1, 1), nn.LeakyReLU(), nn.Conv2d(c.bg_mid, s, 3, 1, 1),
                                        nn.LeakyReLU(), nn.Conv2d(s, s, 3, 1, 1))
        # Built by upstream for v2 too (only v3 runs it): present in the checkpoint, dropped by the converter.
        self.head_torso_alpha_predictor = nn.Sequential(
            nn.Conv2d(7, 32, 3, 1, 1), nn.LeakyReLU(), nn.Conv2d(32, 32, 3, 1, 1), nn.LeakyReLU(),
            nn.Conv2d(32, 1, 3, 1, 1), nn.Sigmoid())
        self.fuse_head_torso_convs = nn.Sequential(nn.Conv2d(2 * s, s, 3, 1, 1), nn.LeakyReLU(), nn.Conv2d(s, s, 3, 1, 1))
        self.head_torso_block = SynthesisBlock(s, s, c.w_dim, c.sr_res, False, lora_r, torgb_lora=False)
        self.fuse_fg_bg_convs = nn.Sequential(nn.Conv2d(2 * s, c.fuse_mid, 1), nn.LeakyReLU(),
                                              nn.Conv2d(c.fuse_mid, s, 3, 1, 1), nn.LeakyReLU(), nn.Conv2d(s, s, 3, 1, 1))

    def forward(self, rgb, x, ref_torso, bg, weights, segmap, kp_s, kp_d, out):
        c = self.c
        ws = torch.ones(1, 1, c.w_dim, dtype=x.dtype)
        r = (c.sr_res,) * 2
        aa = dict(mode="bilinear", align_corners=False, antialias=True)
        rgb_256, w_256 = F.interpolate(rgb, size=r, **aa), F.interpolate(weights, size=r, **aa)
        torso_256, bg_256 = F.interpolate(ref_torso, size=r, **aa), F.interpolate(bg, size=r, **aa)
        x, rgb = self.block0(x, rgb, ws)
        rgb_torso, hid, occ2 = self.torso_model(torso_256, segmap, kp_s, kp_d, rgb_256, w_256)
        out.update(rgb_torso=rgb_torso, torso_alpha=occ2)
        x_torso = self.torso_encoder(hid)
        x_bg = self.bg_encoder(bg_256)
        a = w_256
        rgb = rgb * a + rgb_torso * (1 - a)
        x = self.fuse_head_torso_convs(torch.cat([x * a, x_torso * (1 - a)], 1))
        x, rgb = self.head_torso_block(x, rgb, ws)
        head_occ = torch.where(a > c.head_threshold, torch.ones_like(a), a)
        torso_occ = F.interpolate(occ2, size=r, **aa)
        p = (torso_occ + head_occ).clamp(0, 1)
        rgb = rgb * p + bg_256 * (1 - p)
        x = self.fuse_fg_bg_convs(torch.cat([x * p, x_bg * (1 - p)], 1))
        x, rgb = self.block1(x, rgb, ws)
        return rgb


# ------------------------------------------------------------------------------------------------- the renderer
class OfficialRenderer(nn.Module):
    """state_dict() = the official `state_dict['model']` of a MimicTalk person checkpoint (plus the token
    `cano_img2plane_backbone` and `lambda_*` entries the converter must drop)."""

    def __init__(self, c: RendererConfig, lora_r=2, lora_secc=None, lora_sr=None, lora_decoder=0):
        super().__init__()
        self.c = c
        lora_secc = lora_r if lora_secc is None else lora_secc
        lora_sr = lora_r if lora_sr is None else lora_sr
        self.cano_img2plane_backbone = nn.Module()   # stands in for the unused Img2Plane: one token tensor
        self.cano_img2plane_backbone.register_buffer("token", torch.zeros(4))
        if c.trigrid:
            self.plane2grid_module = nn.Module()
            self.plane2grid_module.register_buffer("token", torch.zeros(4))
        self.secc_img2plane_backbone = SECC2PlaneBackbone(c, lora_secc)
        self.decoder = OSGDecoder(c, lora_decoder)
        self.superresolution = SuperresolutionWarp(c, lora_sr)
        self.lambda_pertube_blink_secc = nn.Parameter(torch.tensor([0.001]))
        self.lambda_pertube_secc = nn.Parameter(torch.tensor([0.001]))

    def forward(self, triplane, inputs, rand_stratified, rand_importance):
        """triplane [1,3,hid*D,P,P]; inputs: dict of the issue-9 input names; returns dict of outputs."""
        c = self.c
        out = {}
        names = ("cond_cano", "cond_src", "cond_tgt") if c.secc_in == 9 else ("cond_cano", "cond_tgt")
        planes = triplane + self.secc_img2plane_backbone(torch.cat([inputs[n] for n in names], 1))
        out["planes"] = planes
        cam = inputs["camera"]
        origins, dirs = ray_sampler(cam[:, :16].view(-1, 4, 4), cam[:, 16:25].view(-1, 3, 3), c.nerf_res)
        feat, depth, weights = importance_render(planes, self.decoder, origins, dirs, c, rand_stratified,
                                                 rand_importance)
        R = c.nerf_res
        feat_img = feat.permute(0, 2, 1).reshape(1, -1, R, R)
        out["feature_image"] = feat_img
        out["weights_image"] = weights.permute(0, 2, 1).reshape(1, 1, R, R)
        out["depth_image"] = depth.permute(0, 2, 1).reshape(1, 1, R, R)
        sr = self.superresolution(feat_img[:, :3], feat_img, inputs["ref_torso_img"], inputs["bg_img"],
                                  out["weights_image"], inputs["segmap"], inputs["kp_s"], inputs["kp_d"], out)
        out["sr_image"] = sr
        out["image"] = sr.clamp(-1, 1)
        return out


def sample_planes_explicit(planes, points, c):
    """Upstream sampling: coordinates ·2/box_warp, projected with inv(plane_axes) via bmm, grid_sample."""
    axes = torch.tensor([[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
                         [[0, 0, 1], [1, 0, 0], [0, 1, 0]]], dtype=torch.float32)
    inv = torch.linalg.inv(axes).to(points.dtype)
    p = (2.0 / c.box_warp) * points
    proj = torch.bmm(p.unsqueeze(0).expand(3, -1, -1), inv)            # [3, M, 3]
    if c.trigrid:
        f = planes[0].reshape(3, c.hid, c.depth, planes.shape[-2], planes.shape[-1])
        s = F.grid_sample(f, proj[:, None, None], mode="bilinear", padding_mode="zeros", align_corners=False)
        return s.permute(0, 4, 3, 2, 1).reshape(1, 3, -1, c.hid)
    s = F.grid_sample(planes[0], proj[:, None, :, :2], mode="bilinear", padding_mode="zeros", align_corners=False)
    return s.permute(0, 3, 2, 1).reshape(1, 3, -1, c.hid)


# ------------------------------------------------------------------ EG3D ray sampler + importance renderer (batched)
def ray_sampler(c2w, K, R):
    N, M = c2w.shape[0], R * R
    dt = c2w.dtype
    uv = torch.stack(torch.meshgrid(torch.arange(R, dtype=dt), torch.arange(R, dtype=dt), indexing="ij")) * (1.0 / R) \
        + (0.5 / R)
    uv = uv.flip(0).reshape(2, -1).transpose(1, 0).unsqueeze(0).repeat(N, 1, 1)
    fx, fy, cx, cy, sk = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 0, 1]
    x_cam, y_cam = uv[:, :, 0], uv[:, :, 1]
    z = torch.ones(N, M, dtype=dt)
    x_lift = (x_cam - cx[:, None] + cy[:, None] * sk[:, None] / fy[:, None] - sk[:, None] * y_cam / fy[:, None]) \
        / fx[:, None] * z
    y_lift = (y_cam - cy[:, None]) / fy[:, None] * z
    pts = torch.stack((x_lift, y_lift, z, torch.ones_like(z)), dim=-1)
    world = torch.bmm(c2w, pts.permute(0, 2, 1)).permute(0, 2, 1)[:, :, :3]
    o = c2w[:, :3, 3]
    dirs = F.normalize(world - o[:, None, :], dim=2)
    return o.unsqueeze(1).repeat(1, M, 1), dirs


def ray_limits_box(o, d, side):
    shape = o.shape
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    bounds = torch.tensor([[-side / 2] * 3, [side / 2] * 3], dtype=o.dtype)
    valid = torch.ones(o.shape[:-1], dtype=torch.bool)
    inv = 1 / d
    sign = (inv < 0).long()
    tmin = (bounds.index_select(0, sign[:, 0])[:, 0] - o[:, 0]) * inv[:, 0]
    tmax = (bounds.index_select(0, 1 - sign[:, 0])[:, 0] - o[:, 0]) * inv[:, 0]
    tymin = (bounds.index_select(0, sign[:, 1])[:, 1] - o[:, 1]) * inv[:, 1]
    tymax = (bounds.index_select(0, 1 - sign[:, 1])[:, 1] - o[:, 1]) * inv[:, 1]
    valid[torch.logical_or(tmin > tymax, tymin > tmax)] = False
    tmin, tmax = torch.max(tmin, tymin), torch.min(tmax, tymax)
    tzmin = (bounds.index_select(0, sign[:, 2])[:, 2] - o[:, 2]) * inv[:, 2]
    tzmax = (bounds.index_select(0, 1 - sign[:, 2])[:, 2] - o[:, 2]) * inv[:, 2]
    valid[torch.logical_or(tmin > tzmax, tzmin > tmax)] = False
    tmin, tmax = torch.max(tmin, tzmin), torch.min(tmax, tzmax)
    tmin[~valid] = -1
    tmax[~valid] = -2
    return tmin.reshape(*shape[:-1], 1), tmax.reshape(*shape[:-1], 1)


def ray_march(colors, densities, depths):
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colors_mid = (colors[:, :, :-1] + colors[:, :, 1:]) / 2
    dens_mid = F.softplus((densities[:, :, :-1] + densities[:, :, 1:]) / 2 - 1)
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    alpha = 1 - torch.exp(-dens_mid * deltas)
    shifted = torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], -2)
    weights = alpha * torch.cumprod(shifted, -2)[:, :, :-1]
    rgb = torch.sum(weights * colors_mid, -2)
    depth = torch.nan_to_num(torch.sum(weights * depths_mid, -2) / weights.sum(2), float("inf"))
    depth = torch.clamp(depth, torch.min(depths), torch.max(depths))
    return rgb * 2 - 1, depth, weights


def sample_pdf(bins, weights, u, eps=1e-5):
    n_rays, n = weights.shape
    weights = weights + eps
    pdf = weights / torch.sum(weights, -1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    u = u.contiguous()
    inds = torch.searchsorted(cdf, u, right=True)
    below, above = torch.clamp_min(inds - 1, 0), torch.clamp_max(inds, n)
    sampled = torch.stack([below, above], -1).view(n_rays, -1)
    cdf_g = torch.gather(cdf, 1, sampled).view(n_rays, -1, 2)
    bins_g = torch.gather(bins, 1, sampled).view(n_rays, -1, 2)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom[denom < eps] = 1
    return bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])


def importance_render(planes, decoder, o, d, c, rand_stratified, rand_importance):
    start, end = ray_limits_box(o, d, c.box_warp)
    valid = end > start
    if torch.any(valid).item():
        start[~valid] = start[valid].min()
        end[~valid] = start[valid].max()      # upstream quirk: the max of the valid *starts*
    n = c.samples_coarse
    steps = (torch.arange(n, dtype=torch.float32) / (n - 1)).to(o.dtype).reshape(n, 1, 1, 1)
    depths = (start[None] + steps * (end - start)[None]).permute(1, 2, 0, 3)
    depths = depths + rand_stratified * ((end - start) / (n - 1))[..., None]
    B, M = o.shape[:2]

    def run(dep):
        pts = (o.unsqueeze(-2) + dep * d.unsqueeze(-2)).reshape(B, -1, 3)
        rgb, sigma = decoder(sample_planes_explicit(planes, pts[0], c))
        k = dep.shape[2]
        return rgb.reshape(B, M, k, -1), sigma.reshape(B, M, k, 1)

    col_c, den_c = run(depths)
    _, _, w = ray_march(col_c, den_c, depths)
    z = depths.reshape(B * M, n)
    w = w.reshape(B * M, -1)
    w = F.max_pool1d(w.unsqueeze(1), 2, 1, padding=1)
    w = F.avg_pool1d(w, 2, 1).squeeze(1) + 0.01
    mids = 0.5 * (z[:, :-1] + z[:, 1:])
    fine = sample_pdf(mids, w[:, 1:-1], rand_importance).reshape(B, M, -1, 1)
    col_f, den_f = run(fine)
    all_d = torch.cat([depths, fine], -2)
    all_c = torch.cat([col_c, col_f], -2)
    all_s = torch.cat([den_c, den_f], -2)
    _, idx = torch.sort(all_d, dim=-2)
    all_d = torch.gather(all_d, -2, idx)
    all_c = torch.gather(all_c, -2, idx.expand(-1, -1, -1, all_c.shape[-1]))
    all_s = torch.gather(all_s, -2, idx)
    rgb, depth, weights = ray_march(all_c, all_s, all_d)
    return rgb, depth, weights.sum(2)
