"""MimicTalk renderer, functional reference over the bundle tensors (docs/renderer.md, "Bundle layout").

One frame of OSAvatarSECC_Img2plane_Torso.forward as MimicTalk inference runs it (spec §5): SECC → motion adapter
(prenet, mit, SegFormer head, to_plane_cnn) + learnable tri-plane → NeRF at nerf_res² (ray–box limits, stratified
+ importance sampling, OSG decoder, MipRayMarcher2) → super-resolution with the warp-based torso model and the
background → final image. Batch 1; every tensor in the bundle is already folded (LoRA, spectral norm, BatchNorm,
constant StyleGAN modulation), so this file only runs plain convolutions, linears and the fixed-function parts.
Written independently of renderer_modules.py (which runs the unfolded official parameters): e.g. the planes are
never flipped here (the tri-plane is stored mirrored and the sampling coordinates are mirrored instead) and the
StyleGAN up-convolution is a zero-insertion + correlation instead of conv_transpose2d.

Inputs (dict, batch 1): cond_cano, cond_src, cond_tgt [1,3,img,img]; ref_torso_img, bg_img [1,3,img,img];
segmap [1,6,img,img]; kp_s, kp_d [1,68,3]; camera [1,25]. Random draws: rand_stratified [1,M,Nc,1] and
rand_importance [M,Nf] with rays in order m = row·nerf_res + column.
"""
import math

import torch
import torch.nn.functional as F

from .renderer_config import RendererConfig

SECC = "secc_img2plane_backbone."
SR = "superresolution."
TM = SR + "torso_model."
INPUT_NAMES = ("cond_cano", "cond_src", "cond_tgt", "ref_torso_img", "bg_img", "segmap", "kp_s", "kp_d", "camera")


def input_shapes(c):
    i = c.img
    return {"cond_cano": [1, 3, i, i], "cond_src": [1, 3, i, i], "cond_tgt": [1, 3, i, i],
            "ref_torso_img": [1, 3, i, i], "bg_img": [1, 3, i, i], "segmap": [1, 6, i, i],
            "kp_s": [1, 68, 3], "kp_d": [1, 68, 3], "camera": [1, 25],
            "rand_stratified": [1, c.nerf_res ** 2, c.samples_coarse, 1],
            "rand_importance": [c.nerf_res ** 2, c.samples_fine]}


class Renderer:
    def __init__(self, cfg: RendererConfig, tensors, dtype=torch.float32):
        self.c = cfg
        self.dtype = dtype
        self.t = {k: v.to(dtype) for k, v in tensors.items()}

    # ------------------------------------------------------------------------------------------- helpers
    def conv(self, x, name, pad=None, stride=1, groups=1):
        w = self.t[name + "weight"]
        p = (w.shape[-1] // 2) if pad is None else pad
        f = F.conv2d if w.dim() == 4 else F.conv3d
        b = self.t.get(name + "bias")
        if x.dtype == torch.float64 and stride == 1 and groups == 1:
            return chunked_conv(f, x, w, b, p)
        return f(x, w, b, stride=stride, padding=p, groups=groups)

    def linear(self, x, name):
        return F.linear(x, self.t[name + "weight"], self.t[name + "bias"])

    def layer_norm(self, x, name, eps):
        return F.layer_norm(x, x.shape[-1:], self.t[name + "weight"], self.t[name + "bias"], eps)

    def nac(self, x, name):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return self.conv(F.relu(x * self.t[name + "scale"].view(shape) + self.t[name + "shift"].view(shape)), name)

    def res(self, x, prefix, n):
        for i in range(n):
            x = x + self.nac(self.nac(x, f"{prefix}{i}.layers.0."), f"{prefix}{i}.layers.1.")
        return x

    # ---------------------------------------------------------------------------------------- motion adapter
    def secc_planes_raw(self, secc):
        """to_plane_cnn output [3, hid*D, P, P], *without* the plane flips."""
        c = self.c
        x = self.conv(secc, SECC + "prenet.")
        feats = []
        for s in range(4):
            p = f"{SECC}mix_vit."
            x = self.conv(x, f"{p}patch_embed{s + 1}.proj.", stride=4 if s == 0 else 2)
            _, C, H, W = x.shape
            x = self.layer_norm(x.flatten(2).transpose(1, 2)[0], f"{p}patch_embed{s + 1}.norm.", 1e-5)  # [N, C]
            heads, sr = c.mit_heads[s], c.mit_sr[s]
            for j in range(c.mit_depths[s]):
                b = f"{p}block{s + 1}.{j}."
                h = self.layer_norm(x, b + "norm1.", 1e-6)
                q = self.linear(h, b + "attn.q.").view(-1, heads, C // heads).transpose(0, 1)
                if sr > 1:
                    t = self.conv(h.t().reshape(1, C, H, W), b + "attn.sr.", pad=0, stride=sr)[0].flatten(1).t()
                    t = self.layer_norm(t, b + "attn.norm.", 1e-5)
                else:
                    t = h
                kv = self.linear(t, b + "attn.kv.").view(-1, 2, heads, C // heads).permute(1, 2, 0, 3)
                a = torch.softmax((q @ kv[0].transpose(1, 2)) * (C // heads) ** -0.5, dim=-1)
                x = x + self.linear((a @ kv[1]).transpose(0, 1).reshape(-1, C), b + "attn.proj.")
                h = self.linear(self.layer_norm(x, b + "norm2.", 1e-6), b + "mlp.fc1.")
                h = self.conv(h.t().reshape(1, -1, H, W), b + "mlp.dwconv.dwconv.", groups=h.shape[1])
                x = x + self.linear(F.gelu(h[0].flatten(1).t()), b + "mlp.fc2.")
            x = self.layer_norm(x, f"{p}norm{s + 1}.", 1e-6).t().reshape(1, C, H, W)
            feats.append(x)
        size = feats[0].shape[2:]
        ups = []
        for i in (4, 3, 2, 1):
            f = feats[i - 1]
            y = self.linear(f[0].flatten(1).t(), f"{SECC}fuse_head.linear_c{i}.proj.").t().reshape(1, -1, *f.shape[2:])
            ups.append(y if i == 1 else F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        x = F.relu(self.conv(torch.cat(ups, 1), SECC + "fuse_head.linear_fuse.", pad=0))
        for i in (0, 2, 4):
            x = F.leaky_relu(self.conv(x, f"{SECC}to_plane_cnn.{i}."), 0.01)
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        x = self.conv(x, SECC + "to_plane_cnn.7.")
        return x.view(3, -1, x.shape[-2], x.shape[-1])

    # ---------------------------------------------------------------------------------------------- NeRF
    def rays(self, camera):
        """Origin [3] and unit directions [M, 3], ray m = row·R + column, pixel centres, OpenCV camera."""
        R = self.c.nerf_res
        cam = camera.reshape(25).to(self.dtype)
        c2w, K = cam[:16].view(4, 4), cam[16:].view(3, 3)
        idx = torch.arange(R, dtype=self.dtype) * (1.0 / R) + 0.5 / R
        v, u = torch.meshgrid(idx, idx, indexing="ij")
        u, v = u.reshape(-1), v.reshape(-1)
        fx, fy, cx, cy, sk = K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]
        x = (u - cx + cy * sk / fy - sk * v / fy) / fx
        y = (v - cy) / fy
        o = c2w[:3, 3]
        world = torch.stack([x, y, torch.ones_like(x)], 1) @ c2w[:3, :3].t() + o
        return o, F.normalize(world - o, dim=1)

    def ray_limits(self, o, d):
        """Slab test against [-box/2, box/2]³; invalid rays: start = min valid start, end = max valid *start*."""
        half = self.c.box_warp / 2
        inv = 1.0 / d
        t0, t1 = (-half - o) * inv, (half - o) * inv
        near = torch.minimum(t0, t1)
        far = torch.maximum(t0, t1)
        tmin = torch.maximum(torch.maximum(near[:, 0], near[:, 1]), near[:, 2])
        tmax = torch.minimum(torch.minimum(far[:, 0], far[:, 1]), far[:, 2])
        ok_xy = ~((near[:, 0] > far[:, 1]) | (near[:, 1] > far[:, 0]))
        txy0, txy1 = torch.maximum(near[:, 0], near[:, 1]), torch.minimum(far[:, 0], far[:, 1])
        ok = ok_xy & ~((txy0 > far[:, 2]) | (near[:, 2] > txy1))
        start = torch.where(ok, tmin, torch.full_like(tmin, -1.0))
        end = torch.where(ok, tmax, torch.full_like(tmax, -2.0))
        valid = end > start
        if valid.any():
            start = torch.where(valid, start, start[valid].min())
            end = torch.where(valid, end, start[valid].max())
        return start, end

    def sample_features(self, planes_raw, pts):
        """Mean over the 3 planes of the bilinear samples; mirrored coordinates replace the §5.2 plane flips."""
        c = self.c
        p = (2.0 / c.box_warp) * pts
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        # upstream plane coordinates (x,y),(x,z),(z,x) [+ depth z,y,y]; flips: H | H | H and W → negate those
        coords = [(x, -y, z), (x, -z, y), (-z, -x, y)]
        P = planes_raw.shape[-1]
        acc = 0
        for k, (a, b, dd) in enumerate(coords):
            if c.trigrid:
                vol = planes_raw[k].view(1, c.hid, c.depth, P, P)
                g = torch.stack([a, b, dd], -1).view(1, 1, 1, -1, 3)
                s = F.grid_sample(vol, g, mode="bilinear", padding_mode="zeros", align_corners=False)[0, :, 0, 0]
            else:
                g = torch.stack([a, b], -1).view(1, 1, -1, 2)
                s = F.grid_sample(planes_raw[k:k + 1], g, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)[0, :, 0]
            acc = acc + s
        return (acc / 3).t()  # [M, hid]

    def decode(self, planes_raw, pts):
        h = F.softplus(self.linear(self.sample_features(planes_raw, pts), "decoder.net.0."))
        out = self.linear(h, "decoder.net.2.")
        return torch.sigmoid(out[:, 1:]) * 1.002 - 0.001, out[:, 0]

    @staticmethod
    def march(rgb, sigma, z):
        """MipRayMarcher2 per ray: rgb [M,S,C], sigma [M,S], z [M,S] → feature [M,C], depth [M], weights [M,S-1]."""
        delta = z[:, 1:] - z[:, :-1]
        mid_c = (rgb[:, 1:] + rgb[:, :-1]) / 2
        mid_s = F.softplus((sigma[:, 1:] + sigma[:, :-1]) / 2 - 1)
        mid_z = (z[:, 1:] + z[:, :-1]) / 2
        alpha = 1 - torch.exp(-mid_s * delta)
        trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1] + 1e-10], 1), 1)
        w = alpha * trans
        feat = (w[..., None] * mid_c).sum(1) * 2 - 1
        depth = torch.nan_to_num((w * mid_z).sum(1) / w.sum(1), float("inf")).clamp(z.min(), z.max())
        return feat, depth, w

    def nerf(self, planes_raw, camera, rand_stratified, rand_importance):
        c = self.c
        o, d = self.rays(camera)
        start, end = self.ray_limits(o, d)
        Nc = c.samples_coarse
        steps = (torch.arange(Nc, dtype=torch.float32) / (Nc - 1)).to(self.dtype)
        span = end - start
        z = start[:, None] + steps[None] * span[:, None] + rand_stratified.reshape(-1, Nc).to(self.dtype) * (span / (Nc - 1))[:, None]
        M = z.shape[0]

        def run(zs):
            pts = o + zs.reshape(-1, 1) * d.repeat_interleave(zs.shape[1], 0)
            rgb, sigma = self.decode(planes_raw, pts)
            return rgb.view(M, zs.shape[1], -1), sigma.view(M, zs.shape[1])

        rgb_c, sig_c = run(z)
        _, _, w = self.march(rgb_c, sig_c, z)
        # max_pool1d(k2, s1, pad 1) then avg_pool1d(k2, s1): neighbours' maxima averaged, + 0.01
        wp = torch.cat([w[:, :1], torch.maximum(w[:, 1:], w[:, :-1]), w[:, -1:]], 1)
        wp = (wp[:, 1:] + wp[:, :-1]) / 2 + 0.01
        bins = (z[:, 1:] + z[:, :-1]) / 2                        # Nc-1 midpoints
        pw = wp[:, 1:-1] + 1e-5                                  # Nc-3 weights
        pdf = pw / pw.sum(1, keepdim=True)
        cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, 1)], 1)
        u = rand_importance.to(self.dtype).contiguous()
        idx = torch.searchsorted(cdf, u, right=True)
        lo, hi = (idx - 1).clamp(min=0), idx.clamp(max=pw.shape[1])
        c0, c1 = cdf.gather(1, lo), cdf.gather(1, hi)
        b0, b1 = bins.gather(1, lo), bins.gather(1, hi)
        den = c1 - c0
        den = torch.where(den < 1e-5, torch.ones_like(den), den)
        zf = b0 + (u - c0) / den * (b1 - b0)
        rgb_f, sig_f = run(zf)
        zall, order = torch.sort(torch.cat([z, zf], 1), dim=1)
        rgb = torch.cat([rgb_c, rgb_f], 1).gather(1, order[..., None].expand(-1, -1, rgb_c.shape[2]))
        sig = torch.cat([sig_c, sig_f], 1).gather(1, order)
        feat, depth, w = self.march(rgb, sig, zall)
        R = c.nerf_res
        return feat.t().reshape(1, -1, R, R), w.sum(1).reshape(1, 1, R, R), depth.reshape(1, 1, R, R)

    # --------------------------------------------------------------------------------------------- SR
    def style_block(self, x, img, prefix, up):
        fir = self.t[SR + "fir"]
        if up:
            # The stored kernel K is the correlation kernel over the zero-inserted input (zero insertion, pad 2,
            # correlate: [O,I,3,3] on 2H-1 → 2H+1, see up_conv_zero_insert); conv_transpose2d with K flipped and
            # transposed is the same operation with 4x fewer multiplications. Then the FIR with pad 1: 2H+1 → 2H.
            w = self.t[prefix + "conv0.weight"]
            x = F.conv_transpose2d(x, w.flip([2, 3]).transpose(0, 1), stride=2)
            x = F.conv2d(F.pad(x, [1, 1, 1, 1]), fir.view(1, 1, 4, 4).repeat(x.shape[1], 1, 1, 1), groups=x.shape[1])
            x = x + self.t[prefix + "conv0.bias"].view(1, -1, 1, 1)
        else:
            x = self.conv(x, prefix + "conv0.")
        x = F.leaky_relu(x, 0.2) * math.sqrt(2.0)
        x = F.leaky_relu(self.conv(x, prefix + "conv1."), 0.2) * math.sqrt(2.0)
        y = self.conv(x, prefix + "torgb.")
        if img is None:
            return x, y
        if up:  # upfirdn2d(img, f, up=2, pad (2,1,2,1), gain 4)
            N, C, H, W = img.shape
            z = img.new_zeros(N, C, 2 * H, 2 * W)
            z[:, :, ::2, ::2] = img
            img = F.conv2d(F.pad(z, [2, 1, 2, 1]), fir.view(1, 1, 4, 4).repeat(C, 1, 1, 1), groups=C)
        return x, img + y

    def torso(self, torso_256, segmap, kp_s, kp_d, head_rgb, head_w):
        c = self.c
        ae, me, ge = TM + "appearance_extractor.", TM + "motion_field_estimator.", TM + "deform_based_generator."
        seg = segmap[:, [2, 4]]
        x = torso_256
        if c.torso_in == 5:
            x = torch.cat([x, F.interpolate(seg, size=x.shape[-2:], mode="bilinear", align_corners=False)], 1)
        x = F.relu(self.conv(x, ae + "in_conv."))
        for i in range(len(c.app_ch) - 1):
            x = F.avg_pool2d(F.relu(self.conv(x, f"{ae}down.{i}.layers.0.")), 2)
        x = self.conv(x, ae + "mid_conv.")
        T = c.torso_res
        fs = self.res(x.view(1, c.app_c, c.app_d, T, T), ae + "res.", c.app_res)
        seg64 = F.interpolate(seg, size=(T, T), mode="bilinear", align_corners=False)
        if c.mul_torso_mask:
            p = (c.dilate - 1) // 2
            mask = F.max_pool2d(F.pad(seg64.sum(1, keepdim=True), [p] * 4, mode="reflect"), c.dilate, 1)
            fs = fs * mask[:, :, None]
        fc = self.conv(torch.cat([fs, seg64[:, :, None].expand(-1, -1, c.app_d, -1, -1)], 1), me + "compress.")
        # Keypoint motions (Rs = Rd = I): heat maps of kp_d - kp_s and shifted identity grids.
        ks, kd = kp_s[0, c.kp_index], kp_d[0, c.kp_index]
        D = c.app_d
        lin = lambda n: torch.arange(n, dtype=self.dtype) / (n - 1) * 2 - 1
        gz, gy, gx = torch.meshgrid(lin(D), lin(T), lin(T), indexing="ij")
        grid = torch.stack([gx, gy, gz], -1)                                # [D,T,T,3] (x→W, y→H, z→D)
        heat = lambda kp: torch.exp(-0.5 * ((grid[None] - kp[:, None, None, None]) ** 2).sum(-1) / c.kp_variance)
        hm = torch.cat([torch.zeros_like(grid[None, ..., 0]), heat(kd) - heat(ks)], 0)       # [K+1,D,T,T]
        motions = torch.cat([grid[None], grid[None] - kd[:, None, None, None] + ks[:, None, None, None]], 0)
        K1 = motions.shape[0]
        warped = F.grid_sample(fc.expand(K1, -1, -1, -1, -1), motions, align_corners=True)   # [K+1,4,D,T,T]
        inp = torch.cat([hm[:, None], warped], 1).reshape(1, -1, D, T, T)
        y = inp
        for i in range(len(c.hg_down)):
            y = F.avg_pool3d(F.relu(self.conv(y, f"{me}down.{i}.layers.0.")), (1, 2, 2))
        for i in range(len(c.hg_up)):
            y = F.relu(self.conv(F.interpolate(y, scale_factor=(1, 2, 2), mode="nearest"), f"{me}up.{i}.layers.1."))
        x = torch.cat([inp, y], 1)
        h = F.interpolate(torch.cat([head_rgb, head_w], 1), size=(c.head_res_px,) * 2, mode="bilinear",
                          align_corners=False)
        h = F.relu(self.conv(h, me + "tgt_head_encoder.0."))
        for i in range(1, c.head_res + 1):
            h = h + self.nac(self.nac(h, f"{me}tgt_head_encoder.{i}.layers.0."), f"{me}tgt_head_encoder.{i}.layers.1.")
        h = F.interpolate(h, size=(T, T), mode="bilinear", align_corners=False)
        x = self.conv(torch.cat([x, h[:, :, None].expand(-1, -1, D, -1, -1)], 1), me + "tgt_head_fuser.")
        mask = torch.softmax(self.conv(x, me + "mask_conv."), 1)[0]                          # [K+1,D,T,T]
        deformation = (motions * mask[..., None]).sum(0, keepdim=True)
        deformation = deformation * 0.1 + deformation * 0.9          # upstream's gradient-scaling expression
        occ2 = torch.sigmoid(self.conv(x.view(1, -1, T, T), me + "occlusion_conv2."))
        occ2 = occ2 * 0.1 + occ2 * 0.9
        g = F.grid_sample(fs, deformation, align_corners=True, padding_mode="border").view(1, -1, T, T)
        g = F.leaky_relu(self.conv(g, ge + "in_conv."), 0.2)
        g = self.res(self.conv(g, ge + "mid_conv."), ge + "res.", c.gen_res)
        for i in range(len(c.gen_ch) - 1):
            g = F.relu(self.conv(F.interpolate(g, scale_factor=2, mode="nearest"), f"{ge}up.{i}.layers.1."))
        rgb = self.conv(g, ge + "out_conv.")
        o = F.interpolate(occ2, size=g.shape[-2:], mode="bilinear", align_corners=False)
        o = F.relu(self.conv(torch.cat([g, o], 1), TM + "occlusion_2_predictor.0."))
        o = F.relu(self.conv(o, TM + "occlusion_2_predictor.2."))
        return rgb, g, torch.sigmoid(self.conv(o, TM + "occlusion_2_predictor.4."))

    def superres(self, feat, weights, inputs, out):
        c = self.c
        r = (c.sr_res,) * 2
        aa = dict(mode="bilinear", align_corners=False, antialias=True)
        rgb = feat[:, :3]
        rgb_256, w_256 = F.interpolate(rgb, size=r, **aa), F.interpolate(weights, size=r, **aa)
        torso_256 = F.interpolate(inputs["ref_torso_img"], size=r, **aa)
        bg_256 = F.interpolate(inputs["bg_img"], size=r, **aa)
        x, rgb = self.style_block(feat, rgb, SR + "block0.", True)
        rgb_torso, hid, occ2 = self.torso(torso_256, inputs["segmap"], inputs["kp_s"], inputs["kp_d"], rgb_256, w_256)
        out["rgb_torso"], out["torso_hidden"], out["torso_alpha"] = rgb_torso, hid, occ2
        x_torso = self.conv(hid, SR + "torso_encoder.0.")
        b = F.leaky_relu(self.conv(bg_256, SR + "bg_encoder.0."), 0.01)
        b = F.leaky_relu(self.conv(b, SR + "bg_encoder.2."), 0.01)
        x_bg = self.conv(b, SR + "bg_encoder.4.")
        a = w_256
        rgb = rgb * a + rgb_torso * (1 - a)
        x = F.leaky_relu(self.conv(torch.cat([x * a, x_torso * (1 - a)], 1), SR + "fuse_head_torso_convs.0."), 0.01)
        x = self.conv(x, SR + "fuse_head_torso_convs.2.")
        x, rgb = self.style_block(x, rgb, SR + "head_torso_block.", False)
        head_occ = torch.where(a > c.head_threshold, torch.ones_like(a), a)
        p = (F.interpolate(occ2, size=r, **aa) + head_occ).clamp(0, 1)
        out["person_alpha"] = p
        rgb = rgb * p + bg_256 * (1 - p)
        x = torch.cat([x * p, x_bg * (1 - p)], 1)
        x = F.leaky_relu(self.conv(x, SR + "fuse_fg_bg_convs.0.", pad=0), 0.01)
        x = F.leaky_relu(self.conv(x, SR + "fuse_fg_bg_convs.2."), 0.01)
        x = self.conv(x, SR + "fuse_fg_bg_convs.4.")
        _, rgb = self.style_block(x, rgb, SR + "block1.", True)
        return rgb

    # -------------------------------------------------------------------------------------------- frame
    def frame(self, inputs, rand_stratified=None, rand_importance=None, generator=None):
        """Returns a dict: image (clamped), sr_image, planes (upstream orientation), feature_image,
        weights_image, depth_image, rgb_torso, torso_hidden, torso_alpha, person_alpha, rand_stratified, rand_importance."""
        c = self.c
        shapes = input_shapes(c)
        inputs = {k: v.to(self.dtype) for k, v in inputs.items()}
        M = c.nerf_res ** 2
        if rand_stratified is None:
            rand_stratified = torch.rand(shapes["rand_stratified"], generator=generator)
        if rand_importance is None:
            rand_importance = torch.rand(shapes["rand_importance"], generator=generator)
        names = ("cond_cano", "cond_src", "cond_tgt") if c.secc_in == 9 else ("cond_cano", "cond_tgt")
        planes_raw = self.t["learnable_triplane"] + self.secc_planes_raw(torch.cat([inputs[n] for n in names], 1))
        out = {"rand_stratified": rand_stratified, "rand_importance": rand_importance}
        out["planes"] = torch.stack([planes_raw[0].flip([1]), planes_raw[1].flip([1]), planes_raw[2].flip([1, 2])])[None]
        feat, weights, depth = self.nerf(planes_raw, inputs["camera"], rand_stratified.view(1, M, -1, 1),
                                         rand_importance.view(M, -1))
        out["feature_image"], out["weights_image"], out["depth_image"] = feat, weights, depth
        sr = self.superres(feat, weights, inputs, out)
        out["sr_image"] = sr
        out["image"] = sr.clamp(-1, 1)
        return out


def up_conv_zero_insert(x, kernel):
    """The documented semantics of a stored up-sampling kernel (docs/renderer.md): insert a zero between
    neighbouring pixels (H → 2H-1), pad 2 with zeros, correlate with kernel [O,I,3,3] → 2H+1."""
    N, C, H, W = x.shape
    z = x.new_zeros(N, C, 2 * H - 1, 2 * W - 1)
    z[:, :, ::2, ::2] = x
    return F.conv2d(z, kernel, padding=2)


def chunked_conv(f, x, w, b, p, budget=1 << 27):
    """Same convolution in slabs of output rows (2-D: H, 3-D: D): PyTorch's CPU float64 convolution builds an
    im2col buffer of Cin·k^n × output size (16 GB for the torso's 7³ Conv3d at full size); slabs bound it."""
    k = w.shape[-1]
    x = F.pad(x, [p] * (2 * (x.dim() - 2)))
    rows = x.shape[2] - k + 1
    per_row = w[0].numel() * int(torch.tensor(x.shape[3:]).prod()) * x.element_size()
    step = max(1, budget // max(per_row, 1))
    if step >= rows:
        return f(x, w, b)
    return torch.cat([f(x[:, :, r:min(rows, r + step) + k - 1], w, b) for r in range(0, rows, step)], 2)


def to_uint8(image):
    """Upstream's frame write: ((img + 1) / 2 · 255).int() — truncation, not rounding — as HWC uint8."""
    return ((image[0].permute(1, 2, 0) + 1) / 2 * 255).int().to(torch.uint8)


def synthetic_camera(euler=(0.0, 0.0, 0.0), trans=(0.0, 0.0, 0.0), focal=2985.29 / 700):
    """A plausible 25-float camera in the layout of spec §5.5 (c2w row-major, then K normalised by the image size):
    camera radius ≈ 2.7 looking at the box. For tests only; the product builds cameras from the 3DMM pose."""
    x, y, z = euler
    rx = torch.tensor([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]], dtype=torch.float64)
    ry = torch.tensor([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]], dtype=torch.float64)
    rz = torch.tensor([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]], dtype=torch.float64)
    R = (rz @ ry @ rx).t()
    cpos = -R @ (torch.tensor(trans, dtype=torch.float64) - torch.tensor([0, 0, 10.0])) * 0.27 + torch.tensor([0, 0.006, 0.161])
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, :3] = R @ torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    c2w[:3, 3] = cpos
    K = torch.tensor([[focal, 0, 0.5], [0, focal, 0.5], [0, 0, 1]], dtype=torch.float64)
    return torch.cat([c2w.reshape(-1), K.reshape(-1)]).to(torch.float32)[None]


def random_inputs(c, seed=0, focal=2985.29 / 700, euler=(0.05, -0.1, 0.02)):
    """Plausible synthetic inputs: SECC-like maps and images in [-1,1], soft segmaps, keypoints in [-0.8,0.8]."""
    g = torch.Generator().manual_seed(seed)
    i = c.img

    def smooth(ch):  # low-frequency images so the convs see structure, not white noise
        x = torch.rand(1, ch, max(i // 16, 2), max(i // 16, 2), generator=g)
        return F.interpolate(x, size=(i, i), mode="bilinear", align_corners=False)

    out = {n: smooth(3) * 2 - 1 for n in ("cond_cano", "cond_src", "cond_tgt", "ref_torso_img", "bg_img")}
    out["segmap"] = torch.softmax(smooth(6) * 8, dim=1)
    kp = (torch.rand(1, 68, 3, generator=g) * 1.6 - 0.8)
    kp[..., 2] = 0
    out["kp_s"] = kp
    out["kp_d"] = (kp + torch.randn(1, 68, 3, generator=g) * 0.05).clamp(-1, 1)
    out["kp_d"][..., 2] = 0
    out["camera"] = synthetic_camera(euler, (0.01, -0.02, 0.1), focal)
    return out
