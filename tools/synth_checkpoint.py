#!/usr/bin/python3
"""Synthetic checkpoints with the official key layouts and random (seeded) weights — no official file is ever
needed or downloaded.

  /usr/bin/python3 -m tools.synth_checkpoint a2m --out a2m.ckpt [--aux] [--tiny] [--dim 256 --depth 16 ...]
      MimicTalk ICS-A2M checkpoint, legacy pickle format (torch.save(..., _use_new_zipfile_serialization=False)):
      {'epoch', 'global_step', 'checkpoint_callback_best', 'optimizer_states': [...], 'state_dict': {'model': sd}}
  /usr/bin/python3 -m tools.synth_checkpoint hubert --out DIR [--tiny] [--format bin|safetensors] [--prefix hubert.]
      Hugging Face directory: config.json + pytorch_model.bin (zip format) or model.safetensors, HF key names.
  /usr/bin/python3 -m tools.synth_checkpoint person --out DIR [--small] [--torso-in 3|5] [--depth 3 --trigrid]
      MimicTalk person checkpoint directory: config.yaml + model_ckpt_steps_10000.ckpt (legacy pickle)
      {'optimizer_states', 'state_dict': {'model': sd, 'learnable_triplane'}, 'lora_args', 'person_ds'}.
      The unused Img2Plane (cano_img2plane_backbone, ~85 M values upstream) is represented by one token tensor.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from tools.reference import safetensors_io
from tools.reference.a2m import A2MConfig
from tools.reference.a2m_modules import OfficialA2M
from tools.reference.hubert import HubertConfig
from tools.reference.hubert_modules import HubertModelHF
from tools.reference.renderer_config import RendererConfig
from tools.reference.renderer_modules import OfficialRenderer


_EMBEDDINGS = ("pitch_embed.weight", "blink_embed.weight", "null_blink_embed", "mouth_amp_embed",
               "null_mouth_amp_embed", "masked_spec_embed", "null_cond")


def _randomize(module, generator):
    """Gives every parameter/buffer a non-trivial random value (norm gains around 1, BN variances positive)."""
    with torch.no_grad():
        for name, t in module.state_dict(keep_vars=True).items():
            if not t.is_floating_point():
                t.fill_(0 if t.dim() == 0 else 1)
                continue
            if name.endswith("inv_freq"):
                continue
            leaf = name.rsplit(".", 1)[-1]
            r = torch.empty(t.shape)
            if leaf == "running_var":
                r.uniform_(0.5, 1.5, generator=generator)
            elif leaf in ("register_tokens", "weights") or name.endswith(_EMBEDDINGS):
                r.normal_(0.0, 1.0, generator=generator)
            elif name.endswith(("q_norm.gamma", "k_norm.gamma")):  # keep 10·dim_head·g² logits moderate
                r.normal_(0.15, 0.02, generator=generator)
            elif leaf in ("gamma", "weight_g") or (leaf == "weight" and t.dim() == 1) or name.endswith("to_gamma.bias"):
                r.normal_(1.0, 0.1, generator=generator)
            elif leaf in ("bias", "running_mean", "beta") or t.dim() == 1:
                r.normal_(0.0, 0.1, generator=generator)
            else:
                fan_in = int(np.prod(t.shape[1:]))
                r.uniform_(-1.0, 1.0, generator=generator).mul_((3.0 / fan_in) ** 0.5)
            t.copy_(r)


def a2m_config_from_args(a):
    if a.tiny:
        cfg = A2MConfig.tiny(aux=a.aux, audio_dim=a.audio_dim or 24)
    else:
        cfg = A2MConfig(aux=a.aux)
        if a.audio_dim:
            cfg.audio_dim = a.audio_dim
    for k in ("motion_dim", "audio_hidden", "dim", "depth", "heads", "dim_head", "registers", "time_hidden",
              "conv_kernel", "ff_inner"):
        v = getattr(a, k)
        if v is not None:
            setattr(cfg, k, v)
    if a.dim is not None and a.ff_inner is None:
        cfg.ff_inner = int(cfg.dim * 4 * 2 / 3)
    return cfg


def make_a2m(cfg, seed):
    torch.manual_seed(seed)
    model = OfficialA2M(cfg)
    _randomize(model, torch.Generator().manual_seed(seed))
    return model


def save_legacy(obj, path, stable=False):
    """torch.save in the legacy (non-zip) format upstream uses. torch names each storage by its memory address, so
    two saves of the same tensors differ in bytes; with stable=True the same format is written here with storages
    numbered in pickling order (torch.load and the restricted loader read it alike), so committed fixtures built
    from these files (whose manifests record the files' SHA-256) regenerate byte for byte."""
    if not stable:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
        return
    import pickle
    from torch import serialization as ts

    storages = {}  # untyped storage address → (key, typed storage)

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if not isinstance(o, torch.storage.TypedStorage):
                return None
            address = o._storage._cdata
            if address not in storages:
                storages[address] = (str(len(storages)), o)
            return ("storage", getattr(torch, o.pickle_storage_type()), storages[address][0], "cpu", o.size(), None)

    info = {"protocol_version": ts.PROTOCOL_VERSION, "little_endian": True,
            "type_sizes": {"short": ts.SHORT_SIZE, "int": ts.INT_SIZE, "long": ts.LONG_SIZE}}
    with open(path, "wb") as f:
        for header in (ts.MAGIC_NUMBER, ts.PROTOCOL_VERSION, info):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump(obj)
        keyed = sorted(storages.values(), key=lambda e: e[0])
        pickle.dump([k for k, _ in keyed], f, protocol=2)
        f.flush()
        for _, typed in keyed:
            typed._storage._write_file(f, True, True, torch._utils._element_size(typed.dtype))


def official_checkpoint(model, optimizer_entries=2):
    sd = model.state_dict()
    names = list(sd)[:optimizer_entries]
    state = {i: {"step": 1000, "exp_avg": torch.zeros_like(sd[n]), "exp_avg_sq": torch.zeros_like(sd[n])}
             for i, n in enumerate(names)}
    return {
        "epoch": 7, "global_step": 1000, "checkpoint_callback_best": np.float64(0.125),
        "optimizer_states": [{"state": state, "param_groups": [
            {"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
             "params": list(range(len(names)))}]}],
        "state_dict": {"model": sd},
    }


def write_a2m(path, cfg, seed=0, stable=False):
    model = make_a2m(cfg, seed)
    save_legacy(official_checkpoint(model), path, stable)
    return model


def hubert_config_from_args(a):
    if a.tiny:
        cfg = HubertConfig.tiny(stable=not a.post_ln)
    elif a.size == "base":
        cfg = HubertConfig(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, conv_bias=False,
                           feat_extract_norm="group", stable_layer_norm=False)
    else:
        cfg = HubertConfig()
    for k in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
        v = getattr(a, k)
        if v is not None:
            setattr(cfg, k, v)
    return cfg


def make_hubert(cfg, seed):
    torch.manual_seed(seed)
    model = HubertModelHF(cfg)
    _randomize(model, torch.Generator().manual_seed(seed))
    return model


def write_hubert(path, cfg, seed=0, fmt="bin", prefix="", model_type="hubert"):
    model = make_hubert(cfg, seed)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg.to_hf(model_type), f, indent=2)
    sd = {prefix + k: v.clone() for k, v in model.state_dict().items()}
    if prefix:
        sd["lm_head.weight"] = torch.zeros(32, cfg.hidden_size)
        sd["lm_head.bias"] = torch.zeros(32)
    if fmt == "safetensors":
        safetensors_io.write(os.path.join(path, "model.safetensors"), sd, metadata={"format": "pt"})
    else:
        torch.save(sd, os.path.join(path, "pytorch_model.bin"))
    return model


def _unit(shape, g, scale=1.0):
    return (torch.rand(shape, generator=g) * 2 - 1) * (3 ** 0.5) * scale


def make_person(cfg, seed=0, lora_r=2):
    """OfficialRenderer with well-conditioned random weights (a float64 run agrees with float32): unit-variance
    raw StyleGAN weights (their gains are applied in forward), fan-in scaled plain convs/linears, LoRA deltas at
    ~30 % of the weight they modify, spectral-norm u/v from power iteration (σ = the top singular value), NeRF
    density biased so the head is neither empty nor opaque, and a non-zero noise_strength (noise_mode 'none' at
    inference must ignore it)."""
    torch.manual_seed(seed)
    model = OfficialRenderer(cfg, lora_r=lora_r).eval()
    g = torch.Generator().manual_seed(seed)
    _randomize(model, g)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("resample_filter"):  # a fixed [1,3,3,1] FIR, not a weight
                buf.copy_(torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)
    stylegan = {}
    for name, m in model.named_modules():
        if type(m).__name__ in ("FullyConnectedLayer", "Conv2dLayer", "SynthesisLayer", "ToRGBLayer"):
            stylegan[name] = m
    with torch.no_grad():
        for name, m in stylegan.items():
            m.weight.copy_(_unit(m.weight.shape, g))
            if type(m).__name__ == "FullyConnectedLayer" and name.endswith("affine"):
                m.bias.copy_(1.0 + _unit(m.bias.shape, g, 0.1))
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.5)
        for name, m in model.named_modules():
            if getattr(m, "lora_r", 0) and hasattr(m, "lora_A"):
                m.lora_A.copy_(_unit(m.lora_A.shape, g))
                m.lora_B.copy_(_unit(m.lora_B.shape, g))
                base = m.conv.weight if hasattr(m, "conv") else m.weight
                ref = base * getattr(m, "gain", 1.0)
                delta = (m.lora_B @ m.lora_A) / m.lora_r
                m.lora_B.mul_(0.3 * float(ref.std()) / max(float(delta.std()), 1e-12))
        for name, m in model.named_modules():
            if hasattr(m, "weight_orig"):  # spectral norm: u, v as converged power iteration
                w = m.weight_orig.reshape(m.weight_orig.shape[0], -1).double()
                v = torch.rand(w.shape[1], generator=g, dtype=torch.float64) + 0.1
                for _ in range(30):
                    u = F.normalize(w @ v, dim=0)
                    v = F.normalize(w.t() @ u, dim=0)
                m.weight_u.copy_(u.float())
                m.weight_v.copy_(v.float())
        dec = model.decoder.net[2]
        dec.bias[0] += 2.0
    return model


def person_checkpoint(model, triplane, person, lora_r):
    sd = model.state_dict()
    lora = [k for k in sd if k.endswith(("lora_A", "lora_B"))][:3]
    state = {i: {"step": 10000, "exp_avg": torch.zeros_like(sd[n]), "exp_avg_sq": torch.zeros_like(sd[n])}
             for i, n in enumerate(lora)}
    return {
        "optimizer_states": [{"state": state, "param_groups": [
            {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
             "params": list(range(len(lora)))}]}],
        "state_dict": {"model": sd, "learnable_triplane": triplane},
        "lora_args": {"lora_mode": "secc2plane_sr", "lora_r": lora_r},
        "person_ds": person,
    }


def person_config_yaml(cfg, lora_r):
    """The keys of a MimicTalk person config.yaml the converter reads (the real file has ~200 more)."""
    lines = {
        "final_resolution": cfg.img, "neural_rendering_resolution": cfg.nerf_res, "triplane_hid_dim": cfg.hid,
        "triplane_depth": cfg.depth, "triplane_feature_type": "trigrid_v2" if cfg.trigrid else "triplane",
        "pncc_cond_mode": "cano_src_tgt" if cfg.secc_in == 9 else "cano_tgt", "secc_segformer_scale": "b0",
        "phase1_plane_fusion_mode": "add", "num_samples_coarse": cfg.samples_coarse,
        "num_samples_fine": cfg.samples_fine, "box_warp": cfg.box_warp, "w_dim": 512, "base_channel": 32768,
        "max_channel": 512, "torso_model_version": "v2", "torso_kp_num": cfg.kp_num,
        "torso_inp_mode": "rgb_alpha" if cfg.torso_in == 5 else "rgb", "weight_fuse": True,
        "htbsr_head_weight_fuse_mode": "v2", "htbsr_head_threshold": 0.9, "sr_type": "vanilla",
        "ray_near": "auto", "ray_far": "auto", "lora_r": lora_r, "lora_mode": "secc2plane_sr",
    }
    out = []
    for k, v in lines.items():
        out.append(f"{k}: {str(v).lower() if isinstance(v, bool) else v}")
    return "\n".join(out) + "\n"


def write_person(out_dir, cfg, seed=0, lora_r=2, step=10000, stable=False):
    """Writes DIR/config.yaml and DIR/model_ckpt_steps_<step>.ckpt; returns (model, triplane, person_ds)."""
    model = make_person(cfg, seed, lora_r)
    g = torch.Generator().manual_seed(seed + 1)
    triplane = _unit([1, 3, cfg.plane_ch, cfg.plane_res, cfg.plane_res], g)
    person = {"gt_img": _unit([1, 3, cfg.img, cfg.img], g, 0.5), "id": torch.randn(1, 80, generator=g),
              "src_kp": torch.rand(68, 3, generator=g) * 1.6 - 0.8, "video_id": "synthetic"}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.yaml"), "w") as f:
        f.write(person_config_yaml(cfg, lora_r))
    save_legacy(person_checkpoint(model, triplane, person, lora_r),
                os.path.join(out_dir, f"model_ckpt_steps_{step}.ckpt"), stable)
    return model, triplane, person


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("a2m", help="ICS-A2M checkpoint (legacy pickle, official keys)")
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--aux", action="store_true", help="pitch/blink/mouth-amp features (to_cond_emb [64, 352])")
    a.add_argument("--tiny", action="store_true", help="tiny test configuration")
    for k in ("motion_dim", "audio_dim", "audio_hidden", "dim", "depth", "heads", "dim_head", "registers",
              "time_hidden", "conv_kernel", "ff_inner"):
        a.add_argument("--" + k.replace("_", "-"), dest=k, type=int)
    h = sub.add_parser("hubert", help="Hugging Face HuBERT directory")
    h.add_argument("--out", required=True)
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--tiny", action="store_true")
    h.add_argument("--post-ln", action="store_true", help="tiny: group-norm + post-LN (base-style) variant")
    h.add_argument("--size", choices=("large", "base"), default="large")
    h.add_argument("--format", choices=("bin", "safetensors"), default="bin")
    h.add_argument("--prefix", default="", help="key prefix, e.g. 'hubert.' as in HubertForCTC checkpoints")
    h.add_argument("--model-type", choices=("hubert", "wav2vec2"), default="hubert")
    for k in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
        h.add_argument("--" + k.replace("_", "-"), dest=k, type=int)
    p = sub.add_parser("person", help="MimicTalk person checkpoint directory (config.yaml + legacy pickle)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--small", action="store_true", help="small test configuration (64² output)")
    p.add_argument("--torso-in", type=int, choices=(3, 5), default=5)
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--trigrid", action="store_true")
    p.add_argument("--lora-r", type=int, default=2)
    args = ap.parse_args(argv)
    if args.cmd == "person":
        cfg = RendererConfig.small() if args.small else RendererConfig()
        cfg.torso_in, cfg.depth, cfg.trigrid = args.torso_in, args.depth, args.trigrid or args.depth > 1
        write_person(args.out, cfg, args.seed, args.lora_r)
        print(f"wrote {args.out}: MimicTalk person checkpoint, {cfg.img}² output", file=sys.stderr)
        return
    if args.cmd == "a2m":
        cfg = a2m_config_from_args(args)
        write_a2m(args.out, cfg, args.seed)
        print(f"wrote {args.out}: A2M dim {cfg.dim} depth {cfg.depth} aux {cfg.aux}", file=sys.stderr)
    else:
        cfg = hubert_config_from_args(args)
        write_hubert(args.out, cfg, args.seed, args.format, args.prefix, args.model_type)
        print(f"wrote {args.out}: HuBERT hidden {cfg.hidden_size} layers {cfg.num_layers}", file=sys.stderr)


if __name__ == "__main__":
    main()
