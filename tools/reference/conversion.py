"""Official checkpoints → avatard bundle tensors: layout detection, refusal of unknown layouts, folding.

A2M: state_dict['model'] of a MimicTalk ICS-A2M checkpoint (spec §6.3) → a2m.tensor_shapes() names, BatchNorm
folded into the preceding conv. HuBERT: a Hugging Face HubertModel/HubertForCTC/Wav2Vec2 directory → hubert.
tensor_shapes() names, positional-conv weight norm folded. Every refusal raises LayoutError naming the key and shapes.
"""
import dataclasses
import json
import os
import re

import torch

from . import restricted_load, safetensors_io
from .a2m import A2MConfig, tensor_shapes as a2m_shapes
from .hubert import HubertConfig, tensor_shapes as hubert_shapes

P = "backbone.icl_transformer_model."
T = P + "transformer."


class LayoutError(ValueError):
    """The checkpoint's keys or shapes are not a layout this converter knows."""


def _shape(sd, key):
    return list(sd[key].shape) if key in sd else None


def _need(sd, key, ndim=None):
    if key not in sd:
        raise LayoutError(f"missing key '{key}'")
    if ndim is not None and sd[key].dim() != ndim:
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)}, expected {ndim} dimensions")
    return list(sd[key].shape)


# ------------------------------------------------------------------------------------------------------------ A2M
def a2m_state_dict(obj):
    """The model state dict from a loaded checkpoint object ({'state_dict': {'model': sd}} or a bare sd)."""
    if isinstance(obj, dict) and "state_dict" in obj:
        sd = obj["state_dict"]
        if not isinstance(sd, dict) or "model" not in sd:
            raise LayoutError(f"checkpoint 'state_dict' has no 'model' entry (keys: {sorted(sd)[:8]})")
        sd = sd["model"]
    else:
        sd = obj
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise LayoutError("checkpoint model entry is not a mapping of tensors")
    return dict(sd)


def official_a2m_shapes(cfg):
    """Official key → shape for a configuration (what the detector accepts, nothing more)."""
    c, s = cfg, {}
    for prefix, cin, cout in [("hubert_encoder.", c.audio_dim, c.audio_hidden)] + (
            [("pitch_encoder.", c.aux_dim, c.aux_dim)] if c.aux else []):
        s[prefix + "0.weight"] = [cout, cin, 3]
        for n in ("weight", "bias", "running_mean", "running_var"):
            s[prefix + "1." + n] = [cout]
        s[prefix + "1.num_batches_tracked"] = []
        s[prefix + "3.weight"] = [cout, cout, 3]
    if c.aux:
        s["pitch_embed.weight"] = [c.pitch_bins, c.aux_dim]
        s["blink_embed.weight"] = [2, c.aux_dim]
        for n in ("null_blink_embed", "mouth_amp_embed", "null_mouth_amp_embed"):
            s[n] = [c.aux_dim]
    s[P + "sinu_pos_emb.0.weights"] = [c.dim // 2]
    s[P + "sinu_pos_emb.1.weight"] = [c.time_hidden, c.dim]
    s[P + "sinu_pos_emb.1.bias"] = [c.time_hidden]
    if c.cond_in != c.motion_dim:
        s[P + "to_cond_emb.weight"] = [c.motion_dim, c.cond_in]
        s[P + "to_cond_emb.bias"] = [c.motion_dim]
    s[P + "to_embed.weight"] = [c.dim, 3 * c.motion_dim]
    s[P + "to_embed.bias"] = [c.dim]
    s[P + "null_cond"] = [c.motion_dim]
    s[P + "conv_embed.dw_conv1d.0.weight"] = [c.dim, 1, c.conv_kernel]
    s[P + "conv_embed.dw_conv1d.0.bias"] = [c.dim]
    if c.registers:
        s[T + "register_tokens"] = [c.registers, c.dim]
    s[T + "rotary_emb.inv_freq"] = [c.dim_head // 2]
    for i in range(c.depth):
        p = f"{T}layers.{i}."
        for j in (2, 4):
            for n in ("to_gamma", "to_beta"):
                s[f"{p}{j}.{n}.weight"] = [c.dim, c.time_hidden]
                s[f"{p}{j}.{n}.bias"] = [c.dim]
        s[p + "3.q_norm.gamma"] = [c.heads, 1, c.dim_head]
        s[p + "3.k_norm.gamma"] = [c.heads, 1, c.dim_head]
        s[p + "3.to_qkv.weight"] = [3 * c.heads * c.dim_head, c.dim]
        s[p + "3.to_out.weight"] = [c.dim, c.heads * c.dim_head]
        s[p + "5.0.weight"] = [2 * c.ff_inner, c.dim]
        s[p + "5.0.bias"] = [2 * c.ff_inner]
        s[p + "5.3.weight"] = [c.dim, c.ff_inner]
        s[p + "5.3.bias"] = [c.dim]
    s[T + "final_norm.gamma"] = [c.dim]
    s[P + "to_pred.weight"] = [c.motion_dim, c.dim]
    return s


def detect_a2m(sd):
    """A2MConfig from tensor shapes; LayoutError (naming key and shapes) for anything else."""
    if any(k.startswith("backbone.") and not k.startswith(P) for k in sd):
        bad = next(k for k in sd if k.startswith("backbone.") and not k.startswith(P))
        raise LayoutError(f"key '{bad}': only the flow-matching wrapper layout '{P}*' is supported "
                          "(icl_model_type icl_flow_matching)")
    a_hidden, a_dim, k = _need(sd, "hubert_encoder.0.weight", 3)
    if k != 3:
        raise LayoutError(f"key 'hubert_encoder.0.weight' has shape {[a_hidden, a_dim, k]}, expected kernel 3")
    aux = "pitch_embed.weight" in sd
    pitch_bins, aux_dim = _need(sd, "pitch_embed.weight", 2) if aux else (300, 32)
    motion_dim = _need(sd, P + "null_cond", 1)[0]
    cond_in = a_hidden + (3 * aux_dim if aux else 0)
    if P + "to_cond_emb.weight" in sd:
        w = _need(sd, P + "to_cond_emb.weight", 2)
        if w[1] != cond_in or w[0] != motion_dim:
            hint = (f"aux features {'present' if aux else 'absent'} (pitch_embed.weight "
                    f"{_shape(sd, 'pitch_embed.weight')}) and hubert_encoder.0.weight {[a_hidden, a_dim, 3]} "
                    f"imply [{motion_dim}, {cond_in}]")
            raise LayoutError(f"key '{P}to_cond_emb.weight' has shape {w}: {hint}")
    elif cond_in != motion_dim:
        raise LayoutError(f"missing key '{P}to_cond_emb.weight' (needed: audio width {cond_in} != motion {motion_dim})")
    dim, three_m = _need(sd, P + "to_embed.weight", 2)
    if three_m != 3 * motion_dim:
        raise LayoutError(f"key '{P}to_embed.weight' has shape {[dim, three_m]}, expected [*, {3 * motion_dim}] "
                          f"(x ‖ audio ‖ cond of {motion_dim} each)")
    time_hidden = _need(sd, P + "sinu_pos_emb.1.weight", 2)[0]
    conv_kernel = _need(sd, P + "conv_embed.dw_conv1d.0.weight", 3)[2]
    registers = _need(sd, T + "register_tokens", 2)[0] if T + "register_tokens" in sd else 0
    dim_head = 2 * _need(sd, T + "rotary_emb.inv_freq", 1)[0]
    layer_ids = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(T) + r"layers\.(\d+)\.", k)] if m})
    if not layer_ids or layer_ids != list(range(len(layer_ids))):
        raise LayoutError(f"transformer layers are not numbered 0..N-1 (found {layer_ids[:20]})")
    for k in sd:
        m = re.match(re.escape(T) + r"layers\.(\d+)\.([01])\.", k)
        if m:
            what = "U-Net skip combiner" if m.group(2) == "0" else "gateloop layer"
            raise LayoutError(f"key '{k}' with shape {_shape(sd, k)}: {what} layers are not supported")
    heads = _need(sd, T + "layers.0.3.q_norm.gamma", 3)[0]
    ff_inner = _need(sd, T + "layers.0.5.3.weight", 2)[1]
    cfg = A2MConfig(motion_dim=motion_dim, audio_dim=a_dim, audio_hidden=a_hidden, aux=aux, aux_dim=aux_dim,
                    pitch_bins=pitch_bins, dim=dim, depth=len(layer_ids), heads=heads, dim_head=dim_head,
                    ff_inner=ff_inner, registers=registers, time_hidden=time_hidden, conv_kernel=conv_kernel)
    inv = sd[T + "rotary_emb.inv_freq"].double()
    if dim_head >= 4 and inv[1] > 0:  # inv_freq[j] = theta ** (-2j / dim_head): informational, the table is stored
        cfg.rope_theta = float(round(float(inv[1] ** (-dim_head / 2)), 1))
    expected = official_a2m_shapes(cfg)
    for key, shape in expected.items():
        if key not in sd:
            raise LayoutError(f"missing key '{key}' (expected shape {shape} for the detected layout)")
        if list(sd[key].shape) != shape:
            raise LayoutError(f"key '{key}' has shape {list(sd[key].shape)}, expected {shape} for the detected "
                              f"layout (dim {dim}, heads {heads}, dim_head {dim_head}, depth {cfg.depth})")
    unknown = sorted(k for k in sd if k not in expected)
    if unknown:
        raise LayoutError(f"unknown key '{unknown[0]}' with shape {_shape(sd, unknown[0])}"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    return cfg


def fold_batchnorm(conv_weight, sd, prefix, eps=1e-5):
    """Conv (no bias) followed by eval BatchNorm → (weight, bias), computed in float64."""
    g = sd[prefix + "weight"].double()
    b = sd[prefix + "bias"].double()
    mean = sd[prefix + "running_mean"].double()
    var = sd[prefix + "running_var"].double()
    if (var < 0).any():
        raise LayoutError(f"key '{prefix}running_var' has negative entries")
    s = g / torch.sqrt(var + eps)
    return (conv_weight.double() * s[:, None, None]).float(), (b - mean * s).float()


def a2m_bundle_tensors(sd, cfg):
    out = {}
    w, b = fold_batchnorm(sd["hubert_encoder.0.weight"], sd, "hubert_encoder.1.", cfg.bn_eps)
    out["audio_encoder.conv0.weight"], out["audio_encoder.conv0.bias"] = w, b
    out["audio_encoder.conv1.weight"] = sd["hubert_encoder.3.weight"]
    if cfg.aux:
        w, b = fold_batchnorm(sd["pitch_encoder.0.weight"], sd, "pitch_encoder.1.", cfg.bn_eps)
        out["aux.pitch_encoder.conv0.weight"], out["aux.pitch_encoder.conv0.bias"] = w, b
        out["aux.pitch_encoder.conv1.weight"] = sd["pitch_encoder.3.weight"]
        out["aux.pitch_embedding"] = sd["pitch_embed.weight"]
        out["aux.blink_embedding"] = sd["blink_embed.weight"]
        out["aux.null_blink"] = sd["null_blink_embed"]
        out["aux.mouth_amp"] = sd["mouth_amp_embed"]
        out["aux.null_mouth_amp"] = sd["null_mouth_amp_embed"]
    if P + "to_cond_emb.weight" in sd:
        out["cond_proj.weight"] = sd[P + "to_cond_emb.weight"]
        out["cond_proj.bias"] = sd[P + "to_cond_emb.bias"]
    else:  # nn.Identity upstream when the widths agree
        out["cond_proj.weight"] = torch.eye(cfg.motion_dim)
        out["cond_proj.bias"] = torch.zeros(cfg.motion_dim)
    out["input_proj.weight"] = sd[P + "to_embed.weight"]
    out["input_proj.bias"] = sd[P + "to_embed.bias"]
    out["null_cond"] = sd[P + "null_cond"]
    out["conv_embed.weight"] = sd[P + "conv_embed.dw_conv1d.0.weight"][:, 0, :]
    out["conv_embed.bias"] = sd[P + "conv_embed.dw_conv1d.0.bias"]
    out["time.freqs"] = sd[P + "sinu_pos_emb.0.weights"]
    out["time.proj.weight"] = sd[P + "sinu_pos_emb.1.weight"]
    out["time.proj.bias"] = sd[P + "sinu_pos_emb.1.bias"]
    if cfg.registers:
        out["registers"] = sd[T + "register_tokens"]
    out["rotary.inv_freq"] = sd[T + "rotary_emb.inv_freq"]
    for i in range(cfg.depth):
        src, dst = f"{T}layers.{i}.", f"layers.{i}."
        for j, norm in ((2, "attn_norm"), (4, "ff_norm")):
            for a, bname in (("to_gamma", "gamma"), ("to_beta", "beta")):
                out[f"{dst}{norm}.{bname}.weight"] = sd[f"{src}{j}.{a}.weight"]
                out[f"{dst}{norm}.{bname}.bias"] = sd[f"{src}{j}.{a}.bias"]
        out[dst + "attn.q_norm"] = sd[src + "3.q_norm.gamma"][:, 0, :]
        out[dst + "attn.k_norm"] = sd[src + "3.k_norm.gamma"][:, 0, :]
        out[dst + "attn.qkv.weight"] = sd[src + "3.to_qkv.weight"]
        out[dst + "attn.out.weight"] = sd[src + "3.to_out.weight"]
        out[dst + "ff.in.weight"] = sd[src + "5.0.weight"]
        out[dst + "ff.in.bias"] = sd[src + "5.0.bias"]
        out[dst + "ff.out.weight"] = sd[src + "5.3.weight"]
        out[dst + "ff.out.bias"] = sd[src + "5.3.bias"]
    out["final_norm.gamma"] = sd[T + "final_norm.gamma"]
    out["output_proj.weight"] = sd[P + "to_pred.weight"]
    out = {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}
    expected = a2m_shapes(cfg)
    assert set(out) == set(expected) and all(list(out[k].shape) == expected[k] for k in out)
    return out


def pad_feed_forward(tensors, cfg, multiple=4):
    """Zero-pads every layer's GEGLU width to a multiple of `multiple` (value and gate halves each, and the
    columns of ff.out): exact, since a padded row gives value 0 · gelu(0) = 0 and meets a zero column. The
    runtime loads tensors as stored; a width that is a multiple of 4 takes its vec4 matmul. Returns new
    tensors and config."""
    ff = cfg.ff_inner
    padded = -(-ff // multiple) * multiple
    if padded == ff:
        return tensors, cfg
    out = dict(tensors)
    for i in range(cfg.depth):
        p = f"layers.{i}."
        w, b = tensors[p + "ff.in.weight"], tensors[p + "ff.in.bias"]
        wp = torch.zeros(2 * padded, w.shape[1], dtype=w.dtype)
        bp = torch.zeros(2 * padded, dtype=b.dtype)
        for half in range(2):
            wp[half * padded:half * padded + ff] = w[half * ff:(half + 1) * ff]
            bp[half * padded:half * padded + ff] = b[half * ff:(half + 1) * ff]
        wo = tensors[p + "ff.out.weight"]
        wop = torch.zeros(wo.shape[0], padded, dtype=wo.dtype)
        wop[:, :ff] = wo
        out[p + "ff.in.weight"], out[p + "ff.in.bias"], out[p + "ff.out.weight"] = wp, bp, wop.contiguous()
    return out, dataclasses.replace(cfg, ff_inner=padded)


# --------------------------------------------------------------------------------------------------------- HuBERT
_HEAD_PREFIXES = ("hubert.", "wav2vec2.")
_ENCODER_ROOTS = ("feature_extractor.", "feature_projection.", "encoder.")


def read_hf_directory(path):
    """(config dict, state dict) from a Hugging Face model directory (safetensors preferred; shards allowed)."""
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise LayoutError(f"{path}: no config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    files = []
    for single, index in (("model.safetensors", "model.safetensors.index.json"),
                          ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if os.path.isfile(os.path.join(path, single)):
            files = [single]
            break
        if os.path.isfile(os.path.join(path, index)):
            with open(os.path.join(path, index)) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
            break
    if not files:
        raise LayoutError(f"{path}: neither model.safetensors nor pytorch_model.bin (or their .index.json)")
    sd = {}
    for name in files:
        full = os.path.join(path, name)
        part = safetensors_io.read(full) if name.endswith(".safetensors") else restricted_load.load(full)
        if not isinstance(part, dict):
            raise LayoutError(f"{full}: not a state dict")
        sd.update(part)
    return cfg, sd


def hubert_encoder_state(sd):
    """Strips 'hubert.'/'wav2vec2.' and drops heads (lm_head, masked_spec_embed, quantizer, ...).
    Returns (encoder state dict, sorted list of ignored keys)."""
    prefixes = {k.split(".", 1)[0] + "." for k in sd if k.startswith(_HEAD_PREFIXES)}
    if len(prefixes) > 1:
        raise LayoutError(f"state dict mixes prefixes {sorted(prefixes)}")
    strip = prefixes.pop() if prefixes else ""
    enc, ignored = {}, []
    for k, v in sd.items():
        name = k[len(strip):] if strip and k.startswith(strip) else k
        if name.startswith(_ENCODER_ROOTS) and (not strip or k.startswith(strip)):
            enc[name] = v
        else:
            ignored.append(k)
    return enc, sorted(ignored)


def fold_weight_norm(g, v):
    """weight = g · v / ||v||, the norm taken over every axis where g has size 1 (HF: dim=2, g [1,1,K])."""
    axes = tuple(i for i, n in enumerate(g.shape) if n == 1)
    norm = torch.sqrt((v.double() ** 2).sum(dim=axes, keepdim=True))
    return (g.double() * v.double() / norm).float()


def hubert_bundle_tensors(sd, cfg):
    enc, _ = hubert_encoder_state(sd)
    out, used = {}, set()

    def take(src, dst):
        if src not in enc:
            raise LayoutError(f"missing key '{src}' for {dst}")
        out[dst] = enc[src]
        used.add(src)

    for i in range(len(cfg.conv_dim)):
        p = f"feature_extractor.conv_layers.{i}."
        take(p + "conv.weight", f"feature_extractor.conv{i}.weight")
        if cfg.conv_bias:
            take(p + "conv.bias", f"feature_extractor.conv{i}.bias")
        if cfg.feat_extract_norm == "layer" or i == 0:
            take(p + "layer_norm.weight", f"feature_extractor.conv{i}.norm.weight")
            take(p + "layer_norm.bias", f"feature_extractor.conv{i}.norm.bias")
    if cfg.feat_proj_layer_norm:
        take("feature_projection.layer_norm.weight", "feature_projection.norm.weight")
        take("feature_projection.layer_norm.bias", "feature_projection.norm.bias")
    take("feature_projection.projection.weight", "feature_projection.linear.weight")
    take("feature_projection.projection.bias", "feature_projection.linear.bias")
    pc = "encoder.pos_conv_embed.conv."
    for g, v in ((pc + "weight_g", pc + "weight_v"),
                 (pc + "parametrizations.weight.original0", pc + "parametrizations.weight.original1")):
        if g in enc and v in enc:
            out["pos_conv.weight"] = fold_weight_norm(enc[g], enc[v])
            used.update((g, v))
            break
    else:
        if pc + "weight" in enc:
            take(pc + "weight", "pos_conv.weight")
        else:
            raise LayoutError(f"missing key '{pc}weight_g'/'{pc}weight_v' (positional conv weight)")
    take(pc + "bias", "pos_conv.bias")
    take("encoder.layer_norm.weight", "encoder_norm.weight")
    take("encoder.layer_norm.bias", "encoder_norm.bias")
    for i in range(cfg.num_layers):
        s, d = f"encoder.layers.{i}.", f"layers.{i}."
        for n in ("q", "k", "v", "out"):
            take(f"{s}attention.{n}_proj.weight", f"{d}attn.{n}.weight")
            take(f"{s}attention.{n}_proj.bias", f"{d}attn.{n}.bias")
        take(s + "layer_norm.weight", d + "attn_norm.weight")
        take(s + "layer_norm.bias", d + "attn_norm.bias")
        take(s + "final_layer_norm.weight", d + "ff_norm.weight")
        take(s + "final_layer_norm.bias", d + "ff_norm.bias")
        take(s + "feed_forward.intermediate_dense.weight", d + "ff.in.weight")
        take(s + "feed_forward.intermediate_dense.bias", d + "ff.in.bias")
        take(s + "feed_forward.output_dense.weight", d + "ff.out.weight")
        take(s + "feed_forward.output_dense.bias", d + "ff.out.bias")
    unknown = sorted(k for k in enc if k not in used)
    if unknown:
        raise LayoutError(f"unknown key '{unknown[0]}' with shape {list(enc[unknown[0]].shape)} for the config "
                          f"(layers {cfg.num_layers}, conv layers {len(cfg.conv_dim)}, norm {cfg.feat_extract_norm})"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    expected = hubert_shapes(cfg)
    for name, shape in expected.items():
        if list(out[name].shape) != shape:
            raise LayoutError(f"tensor for '{name}' has shape {list(out[name].shape)}, expected {shape} from config.json")
    return {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}
