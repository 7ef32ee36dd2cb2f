"""ICS-A2M as a torch.nn module tree whose state_dict has the official checkpoint key layout (spec §6.3).

Used (1) by synth_checkpoint.py to produce official-layout state dicts and (2) as the "original checkpoint"
side of the converter round trip: it runs on unfolded BatchNorm, computes rotary tables in float32 as upstream
does, and uses nn building blocks, so agreement with the functional a2m.A2M over converted bundle tensors checks
the conversion and the functional code independently.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class SinusoidalTime(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(dim // 2))

    def forward(self, t):  # t [B]
        f = t[:, None] * self.weights[None, :] * 2 * math.pi
        return torch.cat((f.sin(), f.cos()), dim=-1)


class RMSNormGain(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.normalize(x, dim=-1) * (x.shape[-1] ** 0.5) * self.gamma


class AdaptiveNorm(nn.Module):
    def __init__(self, dim, cond_dim):
        super().__init__()
        self.to_gamma = nn.Linear(cond_dim, dim)
        self.to_beta = nn.Linear(cond_dim, dim)

    def forward(self, x, cond):  # x [B, n, d], cond [B, c]
        normed = F.normalize(x, dim=-1) * (x.shape[-1] ** 0.5)
        return normed * self.to_gamma(cond)[:, None, :] + self.to_beta(cond)[:, None, :]


class HeadNorm(nn.Module):
    def __init__(self, dim_head, heads):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(heads, 1, dim_head))

    def forward(self, x):  # [B, h, n, d]
        return F.normalize(x, dim=-1) * self.gamma * (x.shape[-1] ** 0.5)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, dim_head, logit_scale=10.0):
        super().__init__()
        self.heads, self.logit_scale = heads, logit_scale
        self.q_norm = HeadNorm(dim_head, heads)
        self.k_norm = HeadNorm(dim_head, heads)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def forward(self, x, angles):
        B, n, _ = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (z.view(B, n, self.heads, -1).permute(0, 2, 1, 3) for z in (q, k, v))
        q, k = self.q_norm(q), self.k_norm(k)

        def rot(z):
            half = z.shape[-1] // 2
            turned = torch.cat((-z[..., half:], z[..., :half]), dim=-1)
            return z * angles.cos() + turned * angles.sin()

        q, k = rot(q), rot(k)
        w = torch.einsum("bhid,bhjd->bhij", q, k) * self.logit_scale
        out = torch.einsum("bhij,bhjd->bhid", w.softmax(dim=-1), v)
        return self.to_out(out.permute(0, 2, 1, 3).reshape(B, n, -1))


class GatedGelu(nn.Module):
    def forward(self, x):
        value, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * value


class Backbone(nn.Module):
    """Official names under backbone.icl_transformer_model.transformer."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg
        self.cfg = c
        self.rotary_emb = nn.Module()
        self.rotary_emb.register_buffer(
            "inv_freq", 1.0 / (c.rope_theta ** (torch.arange(0, c.dim_head, 2).float() / c.dim_head)))
        if c.registers:
            self.register_tokens = nn.Parameter(torch.randn(c.registers, c.dim))
        self.layers = nn.ModuleList()
        for _ in range(c.depth):
            self.layers.append(nn.ModuleList([
                None, None,
                AdaptiveNorm(c.dim, c.time_hidden),
                SelfAttention(c.dim, c.heads, c.dim_head, c.attn_scale),
                AdaptiveNorm(c.dim, c.time_hidden),
                nn.Sequential(nn.Linear(c.dim, 2 * c.ff_inner), GatedGelu(), nn.Dropout(0.0),
                              nn.Linear(c.ff_inner, c.dim)),
            ]))
        self.final_norm = RMSNormGain(c.dim)

    def forward(self, x, time_emb):
        B, n, _ = x.shape
        R = self.cfg.registers
        if R:
            x = torch.cat([self.register_tokens.expand(B, -1, -1), x], dim=1)
        positions = torch.cat([torch.full((R,), self.cfg.register_position, dtype=torch.long),
                               torch.arange(n)]).to(torch.float32)
        freqs = positions[:, None] * self.rotary_emb.inv_freq[None, :]  # float32, as upstream
        angles = torch.cat((freqs, freqs), dim=-1)
        for _, _, attn_norm, attn, ff_norm, ff in self.layers:
            x = attn(attn_norm(x, time_emb), angles) + x
            x = ff(ff_norm(x, time_emb)) + x
        return self.final_norm(x[:, R:])


class InContextTransformer(nn.Module):
    """Official names under backbone.icl_transformer_model."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg
        self.cfg = c
        self.sinu_pos_emb = nn.Sequential(SinusoidalTime(c.dim), nn.Linear(c.dim, c.time_hidden), nn.SiLU())
        self.to_cond_emb = nn.Linear(c.cond_in, c.motion_dim) if c.cond_in != c.motion_dim else nn.Identity()
        self.to_embed = nn.Linear(3 * c.motion_dim, c.dim)
        self.null_cond = nn.Parameter(torch.zeros(c.motion_dim))
        self.conv_embed = nn.Module()
        self.conv_embed.dw_conv1d = nn.Sequential(
            nn.Conv1d(c.dim, c.dim, c.conv_kernel, groups=c.dim, padding=c.conv_kernel // 2), nn.GELU())
        self.transformer = Backbone(c)
        self.to_pred = nn.Linear(c.dim, c.motion_dim, bias=False)

    def forward(self, x, times, cond_audio, cond, cond_mask, drop_cond):
        B, n, _ = x.shape
        keep = cond_mask[..., None].to(x.dtype)
        x = x * keep
        cond = cond * (1 - keep)
        if drop_cond:
            cond = self.null_cond.expand_as(cond)
        a = self.to_cond_emb(cond_audio)
        a = F.interpolate(a.transpose(1, 2)[..., None], size=(n, 1), mode="bilinear",
                          align_corners=False)[..., 0].transpose(1, 2)
        h = self.to_embed(torch.cat([x, a, cond], dim=-1))
        h = self.conv_embed.dw_conv1d(h.transpose(1, 2)).transpose(1, 2) + h
        return self.to_pred(self.transformer(h, self.sinu_pos_emb(times)))


def _audio_block(cin, cout):
    return nn.Sequential(nn.Conv1d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm1d(cout), nn.GELU(),
                         nn.Conv1d(cout, cout, 3, 1, 1, bias=False))


class OfficialA2M(nn.Module):
    """Top level of state_dict['model'] (hubert_encoder, aux embeddings, backbone.icl_transformer_model)."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg
        self.cfg = c
        self.hubert_encoder = _audio_block(c.audio_dim, c.audio_hidden)
        if c.aux:
            self.pitch_embed = nn.Embedding(c.pitch_bins, c.aux_dim)
            self.pitch_encoder = _audio_block(c.aux_dim, c.aux_dim)
            self.blink_embed = nn.Embedding(2, c.aux_dim)
            self.null_blink_embed = nn.Parameter(torch.randn(c.aux_dim))
            self.mouth_amp_embed = nn.Parameter(torch.randn(c.aux_dim))
            self.null_mouth_amp_embed = nn.Parameter(torch.randn(c.aux_dim))
        self.backbone = nn.Module()
        self.backbone.icl_transformer_model = InContextTransformer(c)

    def audio_condition(self, features, f0_coarse=None, mouth_amp=1.0):
        """features [B, L, audio_dim] → [B, L, cond_in]."""
        h = self.hubert_encoder(features.transpose(1, 2)).transpose(1, 2)
        if not self.cfg.aux:
            return h
        B, L, _ = features.shape
        if f0_coarse is None:
            f0_coarse = torch.ones(B, L, dtype=torch.long)
        p = self.pitch_encoder(self.pitch_embed(f0_coarse).transpose(1, 2)).transpose(1, 2)
        b = self.blink_embed(torch.zeros(B, L, dtype=torch.long))
        m = (mouth_amp * self.mouth_amp_embed)[None, None, :].expand(B, L, -1)
        return torch.cat([h, p, b, m], dim=-1)

    @torch.no_grad()
    def sample(self, features, style_motion=None, style_features=None, noise=None, steps=4, cfg_scale=1.5,
               temperature=0.3, f0_coarse=None):
        """Upstream-shaped sampler (B=1) with a float32 torch.linspace grid; returns target rows [T, motion_dim]."""
        self.eval()
        net = self.backbone.icl_transformer_model
        feats = features if style_features is None else torch.cat([style_features, features], dim=0)
        n = feats.shape[0] // 2
        Tr = 0 if style_motion is None else style_motion.shape[0]
        cond = torch.zeros(1, n, self.cfg.motion_dim)
        mask = torch.ones(1, n, dtype=torch.bool)
        if Tr:
            cond[0, :Tr] = style_motion
            mask[0, :Tr] = False
        audio = self.audio_condition(feats[None], f0_coarse=None if f0_coarse is None else f0_coarse[None])
        y = (noise[None] if noise is not None else torch.randn(1, n, self.cfg.motion_dim)) * float(temperature)

        def v(t, y):
            times = t.reshape(1)
            vc = net(y, times, audio, cond, mask, False)
            if cfg_scale == 1.0:
                return vc
            vn = net(y, times, audio, cond, mask, True)
            return vn + (vc - vn) * cfg_scale

        grid = torch.linspace(0, 1, steps)
        for t0, t1 in zip(grid[:-1], grid[1:]):
            dt = t1 - t0
            half = 0.5 * dt
            y = y + dt * v(t0 + half, y + v(t0, y) * half)
        return y[0, Tr:]
