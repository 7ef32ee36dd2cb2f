"""HuBERT / wav2vec2 encoder forward (Hugging Face `HubertModel` semantics → last_hidden_state), functional over
the bundle's clean tensor names, plus MimicTalk's utterance handling (normalisation, 20 s chunks, pad to 8).

Family covered: 7-conv feature extractor ("layer" norm in every conv, or "group" norm in conv 0 only), feature
projection (optional LayerNorm + Linear), grouped conv positional embedding (weight norm folded at conversion,
last frame removed when the kernel is even, GELU), then either the stable-layer-norm encoder (pre-LN layers,
final LayerNorm) or the post-LN encoder (LayerNorm before the layers, post-LN layers).
"""
from dataclasses import dataclass, asdict, field

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class HubertConfig:
    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    intermediate_size: int = 4096
    conv_dim: list = field(default_factory=lambda: [512] * 7)
    conv_kernel: list = field(default_factory=lambda: [10, 3, 3, 3, 3, 2, 2])
    conv_stride: list = field(default_factory=lambda: [5, 2, 2, 2, 2, 2, 2])
    conv_bias: bool = True
    feat_extract_norm: str = "layer"       # "layer" (every conv) or "group" (conv 0 only, one group per channel)
    feat_proj_layer_norm: bool = True
    stable_layer_norm: bool = True          # do_stable_layer_norm
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    layer_norm_eps: float = 1e-5            # projection and encoder LayerNorms
    conv_norm_eps: float = 1e-5             # LayerNorm/GroupNorm inside the feature extractor (torch default)
    activation: str = "gelu"                # feature extractor, positional conv and FFN: GELU (erf)
    sample_rate: int = 16000

    @property
    def stride(self):
        return int(np.prod(self.conv_stride))

    @property
    def receptive_field(self):
        r = 1
        for k, s in zip(reversed(self.conv_kernel), reversed(self.conv_stride)):
            r = (r - 1) * s + k
        return r

    def frames(self, samples):
        n = samples
        for k, s in zip(self.conv_kernel, self.conv_stride):
            n = (n - k) // s + 1 if n >= k else 0
        return max(n, 0)

    @staticmethod
    def from_hf(cfg):
        """From a Hugging Face config.json dict; refuses variants this forward does not implement."""
        model_type = cfg.get("model_type", "hubert")
        if model_type not in ("hubert", "wav2vec2"):
            raise ValueError(f"config.json: model_type '{model_type}' is not hubert or wav2vec2")
        for key, allowed in (("hidden_act", "gelu"), ("feat_extract_activation", "gelu")):
            if cfg.get(key, "gelu") != allowed:
                raise ValueError(f"config.json: {key}={cfg.get(key)!r} unsupported (only 'gelu')")
        if cfg.get("conv_pos_batch_norm", False):
            raise ValueError("config.json: conv_pos_batch_norm=true unsupported")
        if cfg.get("feat_extract_norm", "group") not in ("group", "layer"):
            raise ValueError(f"config.json: feat_extract_norm={cfg.get('feat_extract_norm')!r} unsupported")
        if cfg.get("use_weighted_layer_sum", False) or cfg.get("add_adapter", False):
            raise ValueError("config.json: adapters / weighted layer sums are not part of the encoder forward")
        h = HubertConfig(
            hidden_size=cfg["hidden_size"], num_layers=cfg["num_hidden_layers"],
            num_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
            conv_dim=list(cfg["conv_dim"]), conv_kernel=list(cfg["conv_kernel"]),
            conv_stride=list(cfg["conv_stride"]), conv_bias=bool(cfg.get("conv_bias", False)),
            feat_extract_norm=cfg.get("feat_extract_norm", "group"),
            feat_proj_layer_norm=bool(cfg.get("feat_proj_layer_norm", True)) if model_type == "hubert" else True,
            stable_layer_norm=bool(cfg.get("do_stable_layer_norm", False)),
            pos_conv_kernel=cfg.get("num_conv_pos_embeddings", 128),
            pos_conv_groups=cfg.get("num_conv_pos_embedding_groups", 16),
            layer_norm_eps=cfg.get("layer_norm_eps", 1e-5))
        if not (len(h.conv_dim) == len(h.conv_kernel) == len(h.conv_stride)):
            raise ValueError("config.json: conv_dim, conv_kernel and conv_stride differ in length")
        if h.hidden_size % h.num_heads:
            raise ValueError("config.json: hidden_size is not a multiple of num_attention_heads")
        return h

    def to_hf(self, model_type="hubert"):
        d = {
            "model_type": model_type, "architectures": ["HubertModel" if model_type == "hubert" else "Wav2Vec2Model"],
            "hidden_size": self.hidden_size, "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads, "intermediate_size": self.intermediate_size,
            "hidden_act": "gelu", "feat_extract_activation": "gelu", "conv_dim": self.conv_dim,
            "conv_kernel": self.conv_kernel, "conv_stride": self.conv_stride, "conv_bias": self.conv_bias,
            "feat_extract_norm": self.feat_extract_norm, "do_stable_layer_norm": self.stable_layer_norm,
            "num_conv_pos_embeddings": self.pos_conv_kernel,
            "num_conv_pos_embedding_groups": self.pos_conv_groups, "layer_norm_eps": self.layer_norm_eps,
        }
        if model_type == "hubert":
            d["feat_proj_layer_norm"] = self.feat_proj_layer_norm
        return d

    def manifest(self):
        d = asdict(self)
        d.update({"rows_per_second": self.sample_rate // self.stride, "stride": self.stride,
                  "receptive_field": self.receptive_field, "normalize_input": True, "normalize_eps": 1e-7,
                  "chunk_frames": 1000, "pad_rows_multiple": 8, "output": "last_hidden_state"})
        return d

    @staticmethod
    def from_manifest(d):
        keys = HubertConfig.__dataclass_fields__.keys()
        return HubertConfig(**{k: d[k] for k in keys if k in d})

    @staticmethod
    def tiny(stable=True):
        return HubertConfig(hidden_size=24, num_layers=2, num_heads=4, intermediate_size=40,
                            conv_dim=[16, 16, 12], conv_kernel=[10, 8, 8], conv_stride=[5, 8, 8], conv_bias=stable,
                            feat_extract_norm="layer" if stable else "group", feat_proj_layer_norm=True,
                            stable_layer_norm=stable, pos_conv_kernel=8, pos_conv_groups=4)


def tensor_shapes(cfg):
    c, s = cfg, {}
    cin = 1
    for i, (cout, k) in enumerate(zip(c.conv_dim, c.conv_kernel)):
        p = f"feature_extractor.conv{i}."
        s[p + "weight"] = [cout, cin, k]
        if c.conv_bias:
            s[p + "bias"] = [cout]
        if c.feat_extract_norm == "layer" or i == 0:
            s[p + "norm.weight"] = [cout]
            s[p + "norm.bias"] = [cout]
        cin = cout
    H = c.hidden_size
    if c.feat_proj_layer_norm:
        s["feature_projection.norm.weight"] = [cin]
        s["feature_projection.norm.bias"] = [cin]
    s["feature_projection.linear.weight"] = [H, cin]
    s["feature_projection.linear.bias"] = [H]
    s["pos_conv.weight"] = [H, H // c.pos_conv_groups, c.pos_conv_kernel]
    s["pos_conv.bias"] = [H]
    s["encoder_norm.weight"] = [H]
    s["encoder_norm.bias"] = [H]
    for i in range(c.num_layers):
        p = f"layers.{i}."
        for n in ("q", "k", "v", "out"):
            s[p + f"attn.{n}.weight"] = [H, H]
            s[p + f"attn.{n}.bias"] = [H]
        s[p + "attn_norm.weight"] = [H]
        s[p + "attn_norm.bias"] = [H]
        s[p + "ff_norm.weight"] = [H]
        s[p + "ff_norm.bias"] = [H]
        s[p + "ff.in.weight"] = [c.intermediate_size, H]
        s[p + "ff.in.bias"] = [c.intermediate_size]
        s[p + "ff.out.weight"] = [H, c.intermediate_size]
        s[p + "ff.out.bias"] = [H]
    return s


def recipe(cfg, prefix=""):
    from . import weights as W
    out = []
    for name, shape in tensor_shapes(cfg).items():
        if name.endswith("norm.weight"):
            out.append(W.entry(prefix + name, shape, 0.2, 1.0))
        elif name.endswith(".bias"):
            out.append(W.entry(prefix + name, shape, 0.1))
        elif name == "pos_conv.weight":
            out.append(W.entry(prefix + name, shape, W.fan_in_scale(shape, 0.5)))
        else:
            out.append(W.entry(prefix + name, shape, W.fan_in_scale(shape)))
    return out


def normalize_waveform(wave):
    """Wav2Vec2 processor do_normalize: (x - mean) / sqrt(var + 1e-7) over the whole utterance (population
    variance). Mean and variance are accumulated in float64; the result is float32."""
    x = np.asarray(wave, dtype=np.float32).astype(np.float64)
    if x.size == 0:
        return torch.zeros(0)
    mean = x.mean()
    var = ((x - mean) ** 2).mean()
    return torch.from_numpy(((x - mean) / np.sqrt(var + 1e-7)).astype(np.float32))


class Hubert:
    def __init__(self, cfg, tensors, dtype=torch.float32):
        """dtype float64 runs the same float32 weights in double: the golden values of the fixtures."""
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in tensors.items()}
        for name, shape in tensor_shapes(cfg).items():
            if name not in self.w:
                raise KeyError(f"missing tensor {name}")
            if list(self.w[name].shape) != shape:
                raise ValueError(f"tensor {name} has shape {list(self.w[name].shape)}, expected {shape}")

    def features(self, wave, trace=None):
        """Normalised float32 samples [N] (N >= receptive field) → last_hidden_state [frames, hidden]."""
        c, w = self.cfg, self.w
        x = wave.to(self.dtype).reshape(1, 1, -1)
        for i, (k, s) in enumerate(zip(c.conv_kernel, c.conv_stride)):
            p = f"feature_extractor.conv{i}."
            x = F.conv1d(x, w[p + "weight"], w.get(p + "bias"), stride=s)
            if c.feat_extract_norm == "layer":
                x = F.layer_norm(x.transpose(1, 2), (x.shape[1],), w[p + "norm.weight"], w[p + "norm.bias"],
                                 c.conv_norm_eps).transpose(1, 2)
            elif i == 0:  # GroupNorm with one group per channel: normalise each channel over time
                mean = x.mean(dim=2, keepdim=True)
                var = ((x - mean) ** 2).mean(dim=2, keepdim=True)
                x = (x - mean) / torch.sqrt(var + c.conv_norm_eps)
                x = x * w[p + "norm.weight"][None, :, None] + w[p + "norm.bias"][None, :, None]
            x = F.gelu(x)
        h = x[0].t()
        if trace is not None:
            trace["extract"] = h.clone()
        if c.feat_proj_layer_norm:
            h = F.layer_norm(h, (h.shape[1],), w["feature_projection.norm.weight"], w["feature_projection.norm.bias"],
                             c.layer_norm_eps)
        h = F.linear(h, w["feature_projection.linear.weight"], w["feature_projection.linear.bias"])
        if trace is not None:
            trace["projected"] = h.clone()
        k = c.pos_conv_kernel
        pos = F.conv1d(h.t()[None], w["pos_conv.weight"], w["pos_conv.bias"], padding=k // 2, groups=c.pos_conv_groups)
        if k % 2 == 0:
            pos = pos[..., :-1]
        h = h + F.gelu(pos[0]).t()
        if trace is not None:
            trace["positional"] = h.clone()
        H, nh = c.hidden_size, c.num_heads
        ln = lambda z, n: F.layer_norm(z, (H,), w[n + ".weight"], w[n + ".bias"], c.layer_norm_eps)
        if not c.stable_layer_norm:
            h = ln(h, "encoder_norm")
        for i in range(c.num_layers):
            p = f"layers.{i}."
            a = ln(h, p + "attn_norm") if c.stable_layer_norm else h
            a = self._attention(a, p, H, nh)
            h = h + a
            if not c.stable_layer_norm:
                h = ln(h, p + "attn_norm")
            f = ln(h, p + "ff_norm") if c.stable_layer_norm else h
            f = F.linear(F.gelu(F.linear(f, w[p + "ff.in.weight"], w[p + "ff.in.bias"])),
                         w[p + "ff.out.weight"], w[p + "ff.out.bias"])
            h = h + f
            if not c.stable_layer_norm:
                h = ln(h, p + "ff_norm")
            if trace is not None:
                trace[f"layer{i}"] = h.clone()
        if c.stable_layer_norm:
            h = ln(h, "encoder_norm")
        return h

    def _attention(self, x, p, H, nh):
        w = self.w
        d = H // nh
        q = F.linear(x, w[p + "attn.q.weight"], w[p + "attn.q.bias"]) * (d ** -0.5)
        k = F.linear(x, w[p + "attn.k.weight"], w[p + "attn.k.bias"])
        v = F.linear(x, w[p + "attn.v.weight"], w[p + "attn.v.bias"])
        q, k, v = (z.reshape(-1, nh, d).transpose(0, 1) for z in (q, k, v))
        a = torch.softmax(torch.matmul(q, k.transpose(1, 2)), dim=-1)
        o = torch.matmul(a, v).transpose(0, 1).reshape(-1, H)
        return F.linear(o, w[p + "attn.out.weight"], w[p + "attn.out.bias"])


def utterance_features(model, wave, chunk_frames=1000):
    """MimicTalk's extraction for a whole utterance: normalise all samples once, then run the encoder on
    non-overlapping chunks of `chunk_frames` frames (chunk i covers samples [i·S·C, i·S·C + S·(C-1) + R), S stride,
    R receptive field; 1000 frames = 20 s for HuBERT), plus the remainder if it holds at least R samples, and keep
    expected = (N - (R - S)) // S rows. Attention context therefore resets at every chunk. Fewer than R samples
    give zero rows (upstream would fail there)."""
    c = model.cfg
    x = normalize_waveform(wave)
    S, R = c.stride, c.receptive_field
    clip = S * chunk_frames
    n = x.shape[0]
    if n < R:
        return torch.zeros(0, c.hidden_size, dtype=model.dtype)
    num_iter = n // clip
    out = []
    for i in range(num_iter):
        out.append(model.features(x[i * clip:i * clip + clip - S + R]))
    rest = x[num_iter * clip:]
    if rest.shape[0] >= R:
        out.append(model.features(rest))
    h = torch.cat(out, dim=0)
    expected = (n - (R - S)) // S
    # A remainder of fewer than R - S samples gives one row fewer than the last chunk holds: upstream keeps
    # `expected` rows (it asserts the counts differ by at most one).
    if not 0 <= h.shape[0] - expected <= 1:
        raise AssertionError(f"chunked frames {h.shape[0]} != expected {expected}")
    return h[:expected]


def pad_rows(features, multiple=8):
    """get_hubert: zero rows appended up to a multiple of 8."""
    n = features.shape[0]
    extra = (-n) % multiple
    return torch.cat([features, torch.zeros(extra, features.shape[1], dtype=features.dtype)], dim=0) if extra else features
