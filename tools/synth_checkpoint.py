#!/usr/bin/python3
"""Synthetic checkpoints with the official key layouts and random (seeded) weights — no official file is ever
needed or downloaded.

  /usr/bin/python3 -m tools.synth_checkpoint a2m --out a2m.ckpt [--aux] [--tiny] [--dim 256 --depth 16 ...]
      MimicTalk ICS-A2M checkpoint, legacy pickle format (torch.save(..., _use_new_zipfile_serialization=False)):
      {'epoch', 'global_step', 'checkpoint_callback_best', 'optimizer_states': [...], 'state_dict': {'model': sd}}
  /usr/bin/python3 -m tools.synth_checkpoint hubert --out DIR [--tiny] [--format bin|safetensors] [--prefix hubert.]
      Hugging Face directory: config.json + pytorch_model.bin (zip format) or model.safetensors, HF key names.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from tools.reference import safetensors_io
from tools.reference.a2m import A2MConfig
from tools.reference.a2m_modules import OfficialA2M
from tools.reference.hubert import HubertConfig
from tools.reference.hubert_modules import HubertModelHF


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


def write_a2m(path, cfg, seed=0):
    model = make_a2m(cfg, seed)
    torch.save(official_checkpoint(model), path, _use_new_zipfile_serialization=False)
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
    args = ap.parse_args(argv)
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
