"""ICS-A2M (MimicTalk's in-context flow-matching audio-to-motion transformer), functional reference over the
bundle's clean tensor names (see docs/motion.md, "Bundle tensors"), plus its samplers.

Shapes: one utterance at a time (batch 1). Audio feature rows are at 50 Hz (HuBERT or log-mel), motion rows at
25 Hz; a sequence of N motion rows takes exactly 2N feature rows.
"""
import math
from dataclasses import dataclass, asdict, field

import numpy as np
import torch
import torch.nn.functional as F

FLOAT32_PI = float(np.float32(math.pi))  # torch multiplies by math.pi in float32: round-to-nearest pi


@dataclass
class A2MConfig:
    motion_dim: int = 64          # dim_in: BFM expression coefficients
    audio_dim: int = 1024         # feature rows entering the audio encoder (HuBERT 1024, log-mel n_mels)
    audio_hidden: int = 256       # audio encoder width (upstream: feat_dim = dim)
    aux: bool = False             # pitch/blink/mouth-amplitude features (use_aux_features)
    aux_dim: int = 32
    pitch_bins: int = 300
    dim: int = 256
    depth: int = 16
    heads: int = 8
    dim_head: int = 64
    ff_inner: int = 682           # int(dim * ff_mult * 2 / 3)
    registers: int = 16
    time_hidden: int = 1024
    conv_kernel: int = 31
    rope_theta: float = 50000.0
    register_position: int = -10000
    attn_scale: float = 10.0      # qk_norm_scale, replaces 1/sqrt(dim_head)
    norm_eps: float = 1e-12       # F.normalize
    bn_eps: float = 1e-5

    @property
    def cond_in(self):
        return self.audio_hidden + (3 * self.aux_dim if self.aux else 0)

    def manifest(self):
        d = asdict(self)
        d["cond_in"] = self.cond_in
        d["ff_activation"] = "geglu"
        d["time_embedding"] = "learned_sinusoidal"
        d["rotary"] = "rotate_half_full_head"
        d["feature_rows_per_motion_row"] = 2
        return d

    @staticmethod
    def from_manifest(d):
        keys = A2MConfig.__dataclass_fields__.keys()
        return A2MConfig(**{k: d[k] for k in keys if k in d})

    @staticmethod
    def tiny(aux=False, audio_dim=24):
        return A2MConfig(motion_dim=8, audio_dim=audio_dim, audio_hidden=16, aux=aux, aux_dim=4 if aux else 32, pitch_bins=300,
                         dim=16, depth=2, heads=2, dim_head=8, ff_inner=int(16 * 4 * 2 / 3), registers=4,
                         time_hidden=16, conv_kernel=7)


def tensor_shapes(cfg):
    """Bundle tensor name → shape for this configuration (the manifest's "tensors")."""
    c, s = cfg, {}
    s["audio_encoder.conv0.weight"] = [c.audio_hidden, c.audio_dim, 3]
    s["audio_encoder.conv0.bias"] = [c.audio_hidden]
    s["audio_encoder.conv1.weight"] = [c.audio_hidden, c.audio_hidden, 3]
    if c.aux:
        s["aux.pitch_embedding"] = [c.pitch_bins, c.aux_dim]
        s["aux.pitch_encoder.conv0.weight"] = [c.aux_dim, c.aux_dim, 3]
        s["aux.pitch_encoder.conv0.bias"] = [c.aux_dim]
        s["aux.pitch_encoder.conv1.weight"] = [c.aux_dim, c.aux_dim, 3]
        s["aux.blink_embedding"] = [2, c.aux_dim]
        s["aux.null_blink"] = [c.aux_dim]
        s["aux.mouth_amp"] = [c.aux_dim]
        s["aux.null_mouth_amp"] = [c.aux_dim]
    s["cond_proj.weight"] = [c.motion_dim, c.cond_in]
    s["cond_proj.bias"] = [c.motion_dim]
    s["input_proj.weight"] = [c.dim, 3 * c.motion_dim]
    s["input_proj.bias"] = [c.dim]
    s["null_cond"] = [c.motion_dim]
    s["conv_embed.weight"] = [c.dim, c.conv_kernel]
    s["conv_embed.bias"] = [c.dim]
    s["time.freqs"] = [c.dim // 2]
    s["time.proj.weight"] = [c.time_hidden, c.dim]
    s["time.proj.bias"] = [c.time_hidden]
    if c.registers:
        s["registers"] = [c.registers, c.dim]
    s["rotary.inv_freq"] = [c.dim_head // 2]
    for i in range(c.depth):
        p = f"layers.{i}."
        for norm in ("attn_norm", "ff_norm"):
            s[p + norm + ".gamma.weight"] = [c.dim, c.time_hidden]
            s[p + norm + ".gamma.bias"] = [c.dim]
            s[p + norm + ".beta.weight"] = [c.dim, c.time_hidden]
            s[p + norm + ".beta.bias"] = [c.dim]
        s[p + "attn.q_norm"] = [c.heads, c.dim_head]
        s[p + "attn.k_norm"] = [c.heads, c.dim_head]
        s[p + "attn.qkv.weight"] = [3 * c.heads * c.dim_head, c.dim]
        s[p + "attn.out.weight"] = [c.dim, c.heads * c.dim_head]
        s[p + "ff.in.weight"] = [2 * c.ff_inner, c.dim]
        s[p + "ff.in.bias"] = [2 * c.ff_inner]
        s[p + "ff.out.weight"] = [c.dim, c.ff_inner]
        s[p + "ff.out.bias"] = [c.dim]
    s["final_norm.gamma"] = [c.dim]
    s["output_proj.weight"] = [c.motion_dim, c.dim]
    return s


def recipe(cfg, prefix=""):
    """Deterministic-weight recipe (weights.py) for every bundle tensor of this configuration."""
    from . import weights as W
    out = []
    for name, shape in tensor_shapes(cfg).items():
        if name == "rotary.inv_freq":
            continue  # computed, not random: see rotary_inv_freq()
        if name.endswith("gamma.bias"):               # adaptive norm gain around 1
            e = W.entry(prefix + name, shape, 0.2, 1.0)
        elif name.endswith(("q_norm", "k_norm")):  # gains ~0.15: logits 10·dim_head·g²·cos have std ~2
            e = W.entry(prefix + name, shape, 0.02, 0.15)
        elif name == "final_norm.gamma":
            e = W.entry(prefix + name, shape, 0.2, 1.0)
        elif name.endswith("gamma.weight") or name.endswith("beta.weight"):
            e = W.entry(prefix + name, shape, W.fan_in_scale(shape, 0.1))
        elif name.endswith(".bias") or name in ("null_cond", "aux.null_blink", "aux.mouth_amp", "aux.null_mouth_amp"):
            e = W.entry(prefix + name, shape, 0.1)
        elif name in ("registers", "aux.pitch_embedding", "aux.blink_embedding", "time.freqs"):
            e = W.entry(prefix + name, shape, 1.0)
        else:
            e = W.entry(prefix + name, shape, W.fan_in_scale(shape))
        out.append(e)
    return out


def rotary_inv_freq(cfg):
    """inv_freq as upstream builds it: 1 / theta ** (arange(0, d, 2) / d), in float32."""
    return 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.dim_head, 2).float() / cfg.dim_head))


def rotary_tables(inv_freq, n, registers, register_position=-10000, float64=False):
    """cos/sin tables [registers + n, dim_head] for positions (register_position × registers, 0..n-1).

    angle = float32(position × inv_freq) (the exact product rounded once, as torch's float32 outer product),
    then cos/sin evaluated in float64 and rounded to float32 — needed because |angle| reaches 1e4 rad, where
    shader sin/cos are useless. Columns repeat: [freqs, freqs] (rotate-half convention).
    """
    inv = inv_freq.detach().to(torch.float32).numpy()
    pos = np.concatenate([np.full(registers, register_position, dtype=np.float32),
                          np.arange(n, dtype=np.float32)])
    angle = (pos[:, None] * inv[None, :]).astype(np.float32)  # float32 product
    angle = np.concatenate([angle, angle], axis=1).astype(np.float64)
    if float64:
        return torch.from_numpy(np.cos(angle)), torch.from_numpy(np.sin(angle))
    return (torch.from_numpy(np.cos(angle).astype(np.float32)), torch.from_numpy(np.sin(angle).astype(np.float32)))


def _rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def _conv1d_rows(x, weight, bias=None, groups=1):
    """Conv1d with 'same' zero padding over rows: x [L, Cin] → [L, Cout]."""
    k = weight.shape[-1]
    y = F.conv1d(x.t().unsqueeze(0), weight, bias, padding=k // 2, groups=groups)
    return y[0].t()


def f0_to_coarse(f0, bins=256, f0_min=50.0, f0_max=1100.0):
    """Upstream f0_to_coarse: mel-scale bins 1..bins-1 (0 Hz → 1)."""
    f0 = torch.as_tensor(f0, dtype=torch.float32)
    mel_min = 1127 * math.log(1 + f0_min / 700)
    mel_max = 1127 * math.log(1 + f0_max / 700)
    mel = 1127 * torch.log(1 + f0 / 700)
    mel = torch.where(mel > 0, (mel - mel_min) * (bins - 2) / (mel_max - mel_min) + 1, mel)
    mel = torch.where(mel <= 1, torch.ones_like(mel), mel)
    mel = torch.where(mel > bins - 1, torch.full_like(mel, bins - 1), mel)
    return (mel + 0.5).long()


class A2M:
    """ICS-A2M over bundle tensors: `A2M(cfg, tensors)`."""

    def __init__(self, cfg, tensors, dtype=torch.float32):
        """dtype float64 runs the same float32 weights in double: the golden values of the fixtures."""
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in tensors.items()}
        shapes = tensor_shapes(cfg)
        for name, shape in shapes.items():
            if name not in self.w:
                raise KeyError(f"missing tensor {name}")
            if list(self.w[name].shape) != shape:
                raise ValueError(f"tensor {name} has shape {list(self.w[name].shape)}, expected {shape}")

    # --- parts that do not depend on the ODE state ---------------------------------------------------------------
    def encode_audio(self, features, f0_coarse=None, blink=None, mouth_amp=1.0, null_aux=False):
        """features [L, audio_dim] → audio embedding [L, cond_in] (conv k3, folded BN, GELU, conv k3; + aux)."""
        w = self.w
        features = features.to(self.dtype)
        h = _conv1d_rows(features, w["audio_encoder.conv0.weight"], w["audio_encoder.conv0.bias"])
        h = _conv1d_rows(F.gelu(h), w["audio_encoder.conv1.weight"])
        if not self.cfg.aux:
            return h
        L = features.shape[0]
        if f0_coarse is None:
            f0_coarse = torch.ones(L, dtype=torch.long)  # f0 = 0 → coarse bin 1
        p = w["aux.pitch_embedding"][f0_coarse]
        p = _conv1d_rows(p, w["aux.pitch_encoder.conv0.weight"], w["aux.pitch_encoder.conv0.bias"])
        p = _conv1d_rows(F.gelu(p), w["aux.pitch_encoder.conv1.weight"])
        if null_aux:
            b = w["aux.null_blink"].expand(L, -1)
            m = w["aux.null_mouth_amp"].expand(L, -1)
        else:
            blink = torch.zeros(L, dtype=torch.long) if blink is None else blink
            b = w["aux.blink_embedding"][blink]
            m = (mouth_amp * w["aux.mouth_amp"]).expand(L, -1)
        return torch.cat([h, p, b, m], dim=-1)

    def condition(self, audio_emb):
        """[2N, cond_in] → [N, motion_dim]: Linear, then mean of row pairs (= bilinear 2N → N)."""
        c = F.linear(audio_emb, self.w["cond_proj.weight"], self.w["cond_proj.bias"])
        if c.shape[0] % 2:
            raise ValueError(f"audio rows must be even (2 per motion row), got {c.shape[0]}")
        return 0.5 * (c[0::2] + c[1::2])

    def time_embedding(self, t):
        """Scalar t → [time_hidden]: [sin, cos](t·w·2·pi) → Linear → SiLU."""
        w = self.w
        t = torch.tensor(float(t), dtype=self.dtype)
        f = t * w["time.freqs"] * 2 * FLOAT32_PI
        e = torch.cat([f.sin(), f.cos()])
        return F.silu(F.linear(e, w["time.proj.weight"], w["time.proj.bias"]))

    def tables(self, n):
        cos, sin = rotary_tables(self.w["rotary.inv_freq"], n, self.cfg.registers, self.cfg.register_position,
                                 float64=self.dtype == torch.float64)
        return cos.to(self.dtype), sin.to(self.dtype)

    # --- the network ------------------------------------------------------------------------------------------------
    def velocity(self, x, t, cond_emb, cond, cond_mask, drop_cond, tables=None, trace=None):
        """One transformer evaluation. x, cond [N, motion_dim]; cond_emb [N, motion_dim] from condition();
        cond_mask [N] bool, True = row to predict; drop_cond: the CFG unconditional branch (cond → null_cond)."""
        cfg, w = self.cfg, self.w
        N = x.shape[0]
        m = cond_mask.to(self.dtype)[:, None]
        x, cond_emb, cond = x.to(self.dtype), cond_emb.to(self.dtype), cond.to(self.dtype)
        x = x * m
        cond = cond * (1.0 - m)
        if drop_cond:
            cond = w["null_cond"].expand(N, -1)
        h = F.linear(torch.cat([x, cond_emb, cond], dim=-1), w["input_proj.weight"], w["input_proj.bias"])
        h = F.gelu(_conv1d_rows(h, w["conv_embed.weight"][:, None, :], w["conv_embed.bias"], groups=cfg.dim)) + h
        temb = self.time_embedding(t)
        if cfg.registers:
            h = torch.cat([w["registers"], h], dim=0)
        cos, sin = tables if tables is not None else self.tables(N)
        scale = cfg.dim ** 0.5
        H, D = cfg.heads, cfg.dim_head
        for i in range(cfg.depth):
            p = f"layers.{i}."
            a = self._ada_norm(h, temb, p + "attn_norm")
            qkv = F.linear(a, w[p + "attn.qkv.weight"])
            q, k, v = (z.reshape(-1, H, D).transpose(0, 1) for z in qkv.chunk(3, dim=-1))
            q = F.normalize(q, dim=-1, eps=cfg.norm_eps) * w[p + "attn.q_norm"][:, None, :] * (D ** 0.5)
            k = F.normalize(k, dim=-1, eps=cfg.norm_eps) * w[p + "attn.k_norm"][:, None, :] * (D ** 0.5)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            att = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * cfg.attn_scale, dim=-1)
            o = torch.matmul(att, v).transpose(0, 1).reshape(-1, H * D)
            h = F.linear(o, w[p + "attn.out.weight"]) + h
            f = self._ada_norm(h, temb, p + "ff_norm")
            f = F.linear(f, w[p + "ff.in.weight"], w[p + "ff.in.bias"])
            val, gate = f.chunk(2, dim=-1)
            h = F.linear(F.gelu(gate) * val, w[p + "ff.out.weight"], w[p + "ff.out.bias"]) + h
            if trace is not None:
                trace[f"layer{i}"] = h.clone()
        h = h[cfg.registers:]
        h = F.normalize(h, dim=-1, eps=cfg.norm_eps) * scale * w["final_norm.gamma"]
        return F.linear(h, w["output_proj.weight"])

    def _ada_norm(self, h, temb, p):
        w = self.w
        gamma = F.linear(temb, w[p + ".gamma.weight"], w[p + ".gamma.bias"])
        beta = F.linear(temb, w[p + ".beta.weight"], w[p + ".beta.bias"])
        return F.normalize(h, dim=-1, eps=self.cfg.norm_eps) * (self.cfg.dim ** 0.5) * gamma + beta

    def guided_velocity(self, x, t, cond_emb, cond, cond_mask, cfg_scale, tables=None):
        """Classifier-free guidance on the motion prompt: v_null + (v_cond - v_null) * scale (scale 1: cond only)."""
        v = self.velocity(x, t, cond_emb, cond, cond_mask, False, tables)
        if cfg_scale == 1.0:
            return v
        v_null = self.velocity(x, t, cond_emb, cond, cond_mask, True, tables)
        return v_null + (v - v_null) * cfg_scale


def time_grid(steps):
    """ODE grid: float32(i / (steps - 1)), i = 0..steps-1 (torch.linspace(0, 1, steps) agrees to 1 ulp)."""
    if steps < 2:
        raise ValueError("steps must be >= 2 (grid points, as upstream's denoising_steps)")
    return [float(np.float32(i / (steps - 1))) for i in range(steps)]


def integrate(model, y0, cond_emb, cond, cond_mask, steps, cfg_scale):
    """Midpoint rule on time_grid(steps), float32 scalars as torchdiffeq computes them:
    dt = t1 - t0, half = 0.5 dt, y_mid = y + v(t0, y) * half, y ← y + dt * v(t0 + half, y_mid)."""
    tables = model.tables(y0.shape[0])
    grid = time_grid(steps)
    y = y0.clone()
    for t0, t1 in zip(grid[:-1], grid[1:]):
        dt = np.float32(t1) - np.float32(t0)
        half = np.float32(0.5) * dt
        tm = np.float32(t0) + half
        v0 = model.guided_velocity(y, t0, cond_emb, cond, cond_mask, cfg_scale, tables)
        y_mid = y + v0 * float(half)
        vm = model.guided_velocity(y_mid, float(tm), cond_emb, cond, cond_mask, cfg_scale, tables)
        y = y + float(dt) * vm
    return y


@dataclass
class Style:
    """In-context prompt: expression track [Tr, motion_dim] and its feature rows [2Tr, audio_dim]."""
    motion: torch.Tensor
    features: torch.Tensor
    f0_coarse: torch.Tensor = None


def sample(model, features, *, style=None, noise=None, steps=4, cfg_scale=1.5, temperature=0.3,
           generator=None, f0_coarse=None, mouth_amp=1.0, temperature_scale=None):
    """Offline sampling of one utterance (upstream ConditionalFlowMatcherWrapper.sample with a motion prompt).

    features [2T, audio_dim]; returns motion [T, motion_dim] for the target rows. `noise` [Tr + T, motion_dim]
    is the injected N(0,1) draw (rows of the prompt are irrelevant: the model zeroes x there); y0 = noise·temperature,
    times `temperature_scale` [motion_dim] per dimension when given (avatard's `temperature_dims`, not upstream).
    """
    cfg = model.cfg
    if features.shape[0] % 2:
        raise ValueError("feature rows must be even; pad to a multiple of 8 as upstream does")
    T = features.shape[0] // 2
    Tr = 0 if style is None else style.motion.shape[0]
    feats = features if style is None else torch.cat([style.features, features], dim=0)
    f0 = None
    if cfg.aux:
        tgt = f0_coarse if f0_coarse is not None else torch.ones(2 * T, dtype=torch.long)
        ctx = None if style is None else (style.f0_coarse if style.f0_coarse is not None
                                          else torch.ones(2 * Tr, dtype=torch.long))
        f0 = tgt if ctx is None else torch.cat([ctx, tgt])
    cond = torch.zeros(Tr + T, cfg.motion_dim, dtype=model.dtype)
    mask = torch.ones(Tr + T, dtype=torch.bool)
    if style is not None:
        cond[:Tr] = style.motion
        mask[:Tr] = False
    if noise is None:
        noise = torch.randn(Tr + T, cfg.motion_dim, generator=generator)
    temp = float(temperature) if temperature_scale is None else \
        float(temperature) * torch.as_tensor(temperature_scale, dtype=model.dtype)
    y0 = noise.to(model.dtype) * temp
    cond_emb = model.condition(model.encode_audio(feats, f0_coarse=f0, mouth_amp=mouth_amp))
    y = integrate(model, y0, cond_emb, cond, mask, steps, cfg_scale)
    return y[Tr:]


def upstream_utterance_length(feature_rows):
    """Upstream: HuBERT rows zero-padded to a multiple of 8; T = rows/2; the last 4 frames are dropped at the end."""
    padded = -(-feature_rows // 8) * 8
    return padded, padded // 2, max(0, padded // 2 - 4)


@dataclass
class StreamingPlan:
    hop: int = 4              # motion frames emitted per window (160 ms at 25 fps)
    lookahead: int = 2        # future frames predicted and discarded (80 ms)
    left_context: int = 50    # already-emitted frames fed back as in-context prompt (2 s)

    def latency_ms(self, fps=25):
        return 1000.0 * (self.hop + self.lookahead) / fps


def sample_streaming(model, features, *, plan=StreamingPlan(), style=None, noise=None, steps=4, cfg_scale=1.5,
                     temperature=0.3, generator=None, windows=None, limit_dims=(), limit=0.0, temperature_scale=None,
                     context="motion"):
    """Sliding-window sampling. For each window starting at frame s:
       prompt = style clip (motion + features) ‖ last `left_context` emitted frames (their motion + features),
       targets = frames [s, min(s + hop + lookahead, T)), features of exactly those frames (no audio beyond);
       emit frames [s, s + hop). Target noise row for frame f is noise[f] in every window, so with the same
       `noise` [T, motion_dim] the result is comparable row by row with `sample(..., noise=[zeros(Tr); noise])`.
    Soft limit (`limit_dims`, `limit` = L > 0): every emitted frame's listed dimensions become L·tanh(x/L) before
    they are output and kept as context: the next window continues the context it is given, and a context
    beyond the range the model was trained on can run away (the demo's head yaw); near 0 nothing changes.
    context="audio" (avatard's `stream_context`, not upstream): the left context enters as target rows instead —
    its features and its noise rows noise[c0:s], sampled again and discarded — so no emitted motion is fed back:
    prompt = style clip only, targets = frames [c0, e), emit [s, s + hop).
    """
    if context not in ("motion", "audio"):
        raise ValueError(f"context must be 'motion' or 'audio', not {context!r}")
    cfg = model.cfg
    T = features.shape[0] // 2
    if noise is None:
        noise = torch.randn(T, cfg.motion_dim, generator=generator)
    out = torch.zeros(T, cfg.motion_dim, dtype=model.dtype)
    s = 0
    while s < T:
        e = min(s + plan.hop + plan.lookahead, T)
        c0 = max(0, s - plan.left_context)
        if context == "audio":
            P = 0 if style is None else style.motion.shape[0]
            n = noise[c0:e].to(torch.float32)
            y = sample(model, features[2 * c0:2 * e], style=style,
                       noise=torch.cat([torch.zeros(P, cfg.motion_dim), n], dim=0) if P > 0 else n, steps=steps,
                       cfg_scale=cfg_scale, temperature=temperature, temperature_scale=temperature_scale)[s - c0:]
        else:
            parts_m = ([style.motion] if style is not None else []) + [out[c0:s]]
            parts_f = ([style.features] if style is not None else []) + [features[2 * c0:2 * s]]
            prompt = Style(torch.cat([p.to(model.dtype) for p in parts_m], dim=0),
                           torch.cat([p.to(model.dtype) for p in parts_f], dim=0))
            P = prompt.motion.shape[0]
            n = torch.cat([torch.zeros(P, cfg.motion_dim), noise[s:e].to(torch.float32)], dim=0)
            y = sample(model, features[2 * s:2 * e], style=prompt if P > 0 else None,
                       noise=n if P > 0 else noise[s:e], steps=steps, cfg_scale=cfg_scale, temperature=temperature,
                       temperature_scale=temperature_scale)
        k = min(s + plan.hop, T)
        out[s:k] = y[:k - s]
        if limit_dims and limit > 0:
            d = list(limit_dims)
            out[s:k, d] = limit * torch.tanh(out[s:k, d] / limit)
        if windows is not None:
            windows.append((c0, s, e))
        s = k
    return out


def relative_error(a, b):
    """RMS(a - b) / std(b): error relative to the signal's spread."""
    return float(torch.sqrt(torch.mean((a - b) ** 2)) / torch.std(b))
