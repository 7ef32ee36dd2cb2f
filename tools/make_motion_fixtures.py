#!/usr/bin/python3
"""Writes the motion-stage parity fixtures under Tests/Fixtures/motion/ (small; no PyTorch needed to use them).

  /usr/bin/python3 -m tools.make_motion_fixtures            # tiny models + full-size statistics (a few minutes)
  /usr/bin/python3 -m tools.make_motion_fixtures --tiny-only
  /usr/bin/python3 -m tools.make_motion_fixtures --full-window-large   # only full_window_large.* (15 s)

Weights and full-size inputs come from the deterministic recipe scheme (tools/reference/weights.py,
docs/motion.md); golden outputs are the reference run in float64 on those float32 weights, stored as float32,
with the Python float32 run's own deviation recorded next to them (fixtures.json "f32_error") so a port can state
tolerances against a known float32 noise floor. See Tests/Fixtures/motion/README.md for the file contents.
"""
import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch

from tools.reference import safetensors_io, weights as W
from tools.reference.a2m import A2M, A2MConfig, StreamingPlan, Style, f0_to_coarse, recipe as a2m_recipe
from tools.reference.a2m import relative_error, sample, sample_streaming
from tools.reference.full_window import style_prompt, upstream_full_window
from tools.reference.hubert import Hubert, HubertConfig, normalize_waveform, recipe as hubert_recipe
from tools.reference.hubert import utterance_features
from tools.reference.logmel import LogMelConfig, hann_window, log_mel, mel_filterbank
from tools.reference.motion_noise import motion_noise

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "motion")
torch.set_num_threads(2)

# Sampler settings used by every A2M case.
CASE = {"steps": 4, "cfg_scale": 1.5, "temperature": 0.5, "t_probe": 0.3}
STREAM_PLAN = StreamingPlan(hop=4, lookahead=2, left_context=8)


def speech_like(n, seed_name="input.wave"):
    """Deterministic test signal: a gliding harmonic tone with syllable-rate envelope plus hashed noise."""
    t = np.arange(n, dtype=np.float64) / 16000.0
    f0 = 140.0 + 40.0 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    noise = W.uniform(seed_name, n)
    return (0.25 * env * tone + 0.02 * noise).astype(np.float32)


def max_abs(a, b):
    return float((a.double() - b.double()).abs().max())


class Collector:
    def __init__(self):
        self.tensors, self.errors = {}, {}

    def add(self, name, golden, f32=None):
        self.tensors[name] = golden.detach().to(torch.float32)
        if f32 is not None:
            self.errors[name] = {"max_abs": max_abs(f32, golden), "max_abs_golden": float(golden.abs().max())}


def hubert_case(cfg, tensors, wave, chunk_frames=None, store_wave=True, head_cols=None):
    col = Collector()
    golden, single = Hubert(cfg, tensors, torch.float64), Hubert(cfg, tensors)
    x = normalize_waveform(wave)
    tg, tf = {}, {}
    g = golden.features(x, trace=tg)
    f = single.features(x, trace=tf)
    if head_cols is None:
        if store_wave:
            col.add("io.wave", torch.from_numpy(wave))
        for k in tg:
            col.add(f"io.{k}", tg[k], tf[k])
        col.add("io.last_hidden_state", g, f)
        if chunk_frames:
            col.add("io.chunked", utterance_features(golden, wave, chunk_frames),
                    utterance_features(single, wave, chunk_frames))
    else:  # full size: a column slice and per-row statistics
        col.add("io.head", g[:, :head_cols], f[:, :head_cols])
        col.add("io.row_mean", g.mean(dim=1), f.mean(dim=1))
        col.add("io.row_std", g.std(dim=1, unbiased=False), f.std(dim=1, unbiased=False))
        col.add("io.row_l2", g.norm(dim=1), f.norm(dim=1))
        col.add("io.extract_row_l2", tg["extract"].norm(dim=1), tf["extract"].norm(dim=1))
    return col


def a2m_inputs(cfg, T, Tr, prefix="input."):
    gen = lambda name, shape, scale: W.generate(W.entry(prefix + name, shape, scale))
    inputs = {
        "features": gen("features", [2 * T, cfg.audio_dim], 1.0),
        "style_features": gen("style_features", [2 * Tr, cfg.audio_dim], 1.0),
        "style_motion": gen("style_motion", [Tr, cfg.motion_dim], 1.0),
        "noise": gen("noise", [Tr + T, cfg.motion_dim], math.sqrt(3.0)),  # unit variance
    }
    recipe = [W.entry(prefix + "features", [2 * T, cfg.audio_dim], 1.0),
              W.entry(prefix + "style_features", [2 * Tr, cfg.audio_dim], 1.0),
              W.entry(prefix + "style_motion", [Tr, cfg.motion_dim], 1.0),
              W.entry(prefix + "noise", [Tr + T, cfg.motion_dim], math.sqrt(3.0))]
    if cfg.aux:  # f0 contour 0..400 Hz with unvoiced stretches → coarse bins
        f0 = torch.tensor([0.0 if (i // 7) % 3 == 0 else 120.0 + 3.0 * i for i in range(2 * (T + Tr))])
        inputs["f0_coarse"] = f0_to_coarse(f0)
    return inputs, recipe


def a2m_case(cfg, tensors, inputs, store_inputs=True, stream=True, full=False):
    col = Collector()
    g, s = A2M(cfg, tensors, torch.float64), A2M(cfg, tensors)
    Tr = inputs["style_motion"].shape[0]
    T = inputs["features"].shape[0] // 2
    f0 = inputs.get("f0_coarse")
    feats = torch.cat([inputs["style_features"], inputs["features"]])
    style = Style(inputs["style_motion"], inputs["style_features"], None if f0 is None else f0[:2 * Tr])
    N = Tr + T
    cond = torch.zeros(N, cfg.motion_dim)
    cond[:Tr] = inputs["style_motion"]
    mask = torch.ones(N, dtype=torch.bool)
    mask[:Tr] = False
    x = inputs["noise"] * CASE["temperature"]
    res = {}
    for name, m in (("g", g), ("s", s)):
        r = {}
        r["audio_emb"] = m.encode_audio(feats, f0_coarse=f0)
        r["cond_emb"] = m.condition(r["audio_emb"])
        r["time_emb"] = m.time_embedding(CASE["t_probe"])
        r["velocity_cond"] = m.velocity(x, CASE["t_probe"], r["cond_emb"], cond, mask, False)
        r["velocity_null"] = m.velocity(x, CASE["t_probe"], r["cond_emb"], cond, mask, True)
        kw = dict(style=style, steps=CASE["steps"], cfg_scale=CASE["cfg_scale"],
                  f0_coarse=None if f0 is None else f0[2 * Tr:])
        r["sample"] = sample(m, inputs["features"], noise=inputs["noise"], temperature=CASE["temperature"], **kw)
        r["sample_t0"] = sample(m, inputs["features"], noise=inputs["noise"], temperature=0.0, **kw)
        if stream and f0 is None:
            r["stream"] = sample_streaming(m, inputs["features"], plan=STREAM_PLAN, style=style,
                                           noise=inputs["noise"][Tr:], steps=CASE["steps"],
                                           cfg_scale=CASE["cfg_scale"], temperature=CASE["temperature"])
            if not full:
                # the audio context (stream_context "audio"): the left context sampled again, nothing fed back
                r["stream_audio"] = sample_streaming(m, inputs["features"], plan=STREAM_PLAN, style=style,
                                                     noise=inputs["noise"][Tr:], steps=CASE["steps"],
                                                     cfg_scale=CASE["cfg_scale"], temperature=CASE["temperature"],
                                                     context="audio")
        res[name] = r
    if not full:
        cos, sin = g.tables(N)
        col.add("io.rotary_cos", cos)
        col.add("io.rotary_sin", sin)
    else:  # keep the file small: the audio embedding as a column slice and row norms
        for name in ("g", "s"):
            a = res[name].pop("audio_emb")
            res[name]["audio_emb_head"] = a[:, :32]
            res[name]["audio_emb_row_l2"] = a.norm(dim=1)
    for k in res["g"]:
        col.add("io." + k, res["g"][k], res["s"][k])
    if store_inputs:
        for k, v in inputs.items():
            col.tensors["io.input." + k] = v.to(torch.float32)
    return col


# Whole offline path (audio → HuBERT utterance mode → full-window A2M), tiny models: a 2.8 s utterance of whole
# 40 ms frames (as a session hands it over), 40-row chunks so that the chunk rule runs (3 chunks + remainder),
# a 10-frame style clip, the seeded session noise.
FULL_WINDOW = {"frames": 70, "style_frames": 10, "chunk_frames": 40, "pad_rows_multiple": 8, "seed": 2026,
               "steps": 4, "cfg_scale": 1.5, "temperature": 0.5}
# Amplitude per 0.1 s segment (exact in float32): loud, quiet, silent stretches, so whole-utterance statistics
# differ from any prefix's.
FULL_WINDOW_ENVELOPE = [0.25, 0.0625, 0.5, 0.0, 0.1875, 0.375, 0.125]
FULL_WINDOW_SEGMENT = 1600


def enveloped_wave(name, n):
    """Recipe noise (scale 0.5) times FULL_WINDOW_ENVELOPE per segment, in float32 (Swift: the same product)."""
    x = W.generate(W.entry(name, [n], 0.5)).numpy()
    env = np.array(FULL_WINDOW_ENVELOPE, dtype=np.float32)[(np.arange(n) // FULL_WINDOW_SEGMENT) % len(FULL_WINDOW_ENVELOPE)]
    return x * env


# The same path at full size (HuBERT-large + the 256-d × 16 A2M, recipe weights): 1.2 s, upstream's 1000-row
# chunks (one chunk here). Written only with --full-window-large (minutes); the Swift side is opt-in.
FULL_WINDOW_LARGE = {"frames": 30, "style_frames": 10, "chunk_frames": 1000, "pad_rows_multiple": 8, "seed": 2026,
                     "steps": 4, "cfg_scale": 1.5, "temperature": 0.5}


def full_window_case(large=False):
    """Golden whole path: the upstream-exact reference (tools/reference/full_window.py) in float64 on the tiny
    HuBERT (stable) and tiny A2M recipe weights (or the full-size ones); the float32 run gives the noise floor."""
    fw = FULL_WINDOW_LARGE if large else FULL_WINDOW
    hcfg, acfg = (HubertConfig(), A2MConfig()) if large else (HubertConfig.tiny(True), A2MConfig.tiny(aux=False))
    hrec, arec = hubert_recipe(hcfg), a2m_recipe(acfg)
    htensors, atensors = W.generate_all(hrec), W.generate_all(arec)
    atensors["rotary.inv_freq"] = torch.tensor(
        (1.0 / (acfg.rope_theta ** (torch.arange(0, acfg.dim_head, 2).float() / acfg.dim_head))).numpy())
    n, ns = fw["frames"] * 640, fw["style_frames"] * 640
    wave = enveloped_wave("full_window.wave", n)
    style_wave = enveloped_wave("full_window.style_wave", ns)
    style_motion = W.generate(W.entry("full_window.style_motion", [fw["style_frames"], acfg.motion_dim], 1.0))
    frames = -(-(hcfg.frames(n)) // fw["pad_rows_multiple"]) * fw["pad_rows_multiple"] // 2
    noise = torch.from_numpy(motion_noise(fw["seed"], frames, acfg.motion_dim))
    col, res = Collector(), {}
    for name, dtype in (("g", torch.float64), ("s", torch.float32)):
        hubert, a2m = Hubert(hcfg, htensors, dtype), A2M(acfg, atensors, dtype)
        style = style_prompt(hubert, style_motion, style_wave, fw["chunk_frames"], fw["pad_rows_multiple"])
        r = upstream_full_window(hubert, a2m, wave, noise=noise, style=style, steps=fw["steps"],
                                 cfg_scale=fw["cfg_scale"], temperature=fw["temperature"],
                                 chunk_frames=fw["chunk_frames"], pad_multiple=fw["pad_rows_multiple"])
        res[name] = {"io.style_features": style.features, "io.features": r.features, "io.motion": r.motion, "kept": r.kept}
    if large:  # keep the file small: a column slice and row norms of the 1024-wide rows
        for name in ("g", "s"):
            r = res[name]
            for k in ("io.style_features", "io.features"):
                f = r.pop(k)
                r[k + "_head"], r[k + "_row_l2"] = f[:, :64], f.norm(dim=1)
    for k in res["g"]:
        if k != "kept":
            col.add(k, res["g"][k], res["s"][k])
    col.tensors["io.noise"] = noise
    col.tensors["io.wave_head"] = torch.from_numpy(wave[:256].copy())
    hconf = hcfg.manifest()
    hconf.update({"chunk_frames": fw["chunk_frames"], "pad_rows_multiple": fw["pad_rows_multiple"]})
    entry = {
        "file": "full_window.safetensors", "case": fw,
        "hubert": {"config": hconf, "recipe": hrec}, "a2m": {"config": acfg.manifest(), "recipe": arec},
    } if not large else {
        "file": "full_window_large.safetensors", "case": fw,
        # The recipes are those of fixtures.json's full-size entries (kept out of this file for size).
        "hubert": {"config": hconf, "recipe_from": "fixtures.json:hubert_large"},
        "a2m": {"config": acfg.manifest(), "recipe_from": "fixtures.json:a2m_full"},
    }
    entry.update({
        "wave": {"name": "full_window.wave", "samples": n, "scale": 0.5},
        "style_wave": {"name": "full_window.style_wave", "samples": ns, "scale": 0.5},
        "envelope": {"amplitudes": FULL_WINDOW_ENVELOPE, "segment_samples": FULL_WINDOW_SEGMENT},
        "style_motion": W.entry("full_window.style_motion", [fw["style_frames"], acfg.motion_dim], 1.0),
        "counts": {"upstream_rows": hcfg.frames(n), "padded_rows": 2 * int(res["g"]["io.motion"].shape[0]),
                   "frames": int(res["g"]["io.motion"].shape[0]), "kept": res["g"]["kept"],
                   "session_frames": fw["frames"]},
        "f32_error": col.errors,
    })
    return col, entry


def streaming_figures(cfg, tensors, T, Tr, plans, prefix="stream."):
    """Streaming vs offline on the same features and noise: RMS error / std of the offline motion."""
    m = A2M(cfg, tensors)
    inputs, _ = a2m_inputs(cfg, T, Tr, prefix)
    style = Style(inputs["style_motion"], inputs["style_features"])
    rows = []
    other = sample(m, inputs["features"], style=style, noise=W.generate(W.entry(prefix + "noise2", [Tr + T, cfg.motion_dim],
                   math.sqrt(3.0))), steps=4, cfg_scale=1.5, temperature=0.3)
    off = sample(m, inputs["features"], style=style, noise=inputs["noise"], steps=4, cfg_scale=1.5, temperature=0.3)
    rows.append({"temperature": 0.3, "baseline": "offline with other noise", "relative_error":
                 round(relative_error(other, off), 4)})
    print(f"    baseline (offline, other noise): {rows[-1]['relative_error']}", file=sys.stderr, flush=True)
    for temperature in (0.3, 0.0):
        off = sample(m, inputs["features"], style=style, noise=inputs["noise"], steps=4, cfg_scale=1.5,
                     temperature=temperature)
        for plan in (plans if temperature else plans[:1]):
            st = sample_streaming(m, inputs["features"], plan=plan, style=style, noise=inputs["noise"][Tr:],
                                  steps=4, cfg_scale=1.5, temperature=temperature)
            rows.append({"temperature": temperature, "hop": plan.hop, "lookahead": plan.lookahead,
                         "left_context": plan.left_context, "latency_ms": plan.latency_ms(),
                         "relative_error": round(relative_error(st, off), 4)})
            print(f"    T={T} Tr={Tr} temp {temperature} hop {plan.hop} la {plan.lookahead} ctx "
                  f"{plan.left_context}: {rows[-1]['relative_error']}", file=sys.stderr, flush=True)
    return rows


def hash_samples():
    out = []
    for name in ("", "a", "layers.0.attn.qkv.weight"):
        out.append({"name": name, "fnv1a64": f"{W.fnv1a64(name):016x}"})
    for name, idx in (("check", 0), ("check", 1), ("check", 12345), ("layers.0.attn.qkv.weight", 7)):
        u = W.uniform(name, idx + 1)[idx]
        v = np.float32(0.25 + 0.5 * u)
        out.append({"name": name, "index": idx, "two_u_minus_1": float(u), "scale": 0.5, "offset": 0.25,
                    "float32_bits": f"{v.view(np.uint32):08x}"})
    return out


def dump_json(obj):
    text = json.dumps(obj, indent=1, sort_keys=True)
    return re.sub(r"\[\s*([-0-9.e,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny-only", action="store_true")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--skip-hubert", action="store_true", help="keep the previous HuBERT-large entry")
    ap.add_argument("--skip-streaming", action="store_true", help="full-size fixtures without the streaming figures")
    ap.add_argument("--full-window-large", action="store_true",
                    help="write only full_window_large.{json,safetensors} (the full-size whole offline path; minutes)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    log = lambda msg: print(f"[{time.time() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)
    if args.full_window_large:
        col, entry = full_window_case(large=True)
        safetensors_io.write(os.path.join(args.out, entry["file"]), col.tensors)
        with open(os.path.join(args.out, "full_window_large.json"), "w") as f:
            f.write(dump_json(entry) + "\n")
        log(f"wrote {entry['file']} ({os.path.getsize(os.path.join(args.out, entry['file'])) // 1024} KB)")
        return
    meta = {"format": "avatard motion fixtures", "version": 1, "hash_samples": hash_samples(), "case": CASE,
            "stream_plan": {"hop": STREAM_PLAN.hop, "lookahead": STREAM_PLAN.lookahead,
                            "left_context": STREAM_PLAN.left_context}, "models": {}}

    def save(name, kind, cfg, recipe, col, file_inputs=None, extra=None):
        path = os.path.join(args.out, name + ".safetensors")
        safetensors_io.write(path, col.tensors)
        entry = {"kind": kind, "file": name + ".safetensors", "config": cfg.manifest(), "recipe": recipe,
                 "f32_error": col.errors}
        if file_inputs is not None:
            entry["input_recipe"] = file_inputs
        if extra:
            entry.update(extra)
        meta["models"][name] = entry
        log(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")

    # HuBERT, tiny: stable-layer-norm ("layer" conv norm) and post-LN ("group" conv norm) variants.
    wave = speech_like(4800)  # 0.3 s, stored once in hubert_tiny.safetensors (io.wave)
    for stable, name in ((True, "hubert_tiny"), (False, "hubert_tiny_postln")):
        cfg = HubertConfig.tiny(stable)
        rec = hubert_recipe(cfg)
        col = hubert_case(cfg, W.generate_all(rec), wave, chunk_frames=6 if stable else None, store_wave=stable)
        save(name, "hubert", cfg, rec, col, extra={"chunk_frames": 6} if stable else {"wave": "hubert_tiny.safetensors:io.wave"})

    # Log-mel front-end.
    mc = LogMelConfig()
    col = Collector()
    fb = torch.from_numpy(mel_filterbank(mc))
    col.tensors.update({"io.window": torch.from_numpy(hann_window(mc)), "io.filterbank_row_sum": fb.sum(dim=1),
                        "io.filterbank_row_max": fb.max(dim=1).values, "io.filterbank_row_argmax": fb.argmax(dim=1).float(),
                        "io.log_mel": log_mel(wave, mc)})
    silence = np.zeros(1200, dtype=np.float32)
    col.tensors["io.log_mel_silence"] = log_mel(silence, mc)
    save("log_mel", "log_mel", mc, [], col, extra={"wave": "hubert_tiny.safetensors:io.wave"})

    # A2M, tiny: aux off and on.
    for aux, name in ((False, "a2m_tiny"), (True, "a2m_tiny_aux")):
        cfg = A2MConfig.tiny(aux=aux)
        rec = a2m_recipe(cfg)
        tensors = W.generate_all(rec)
        tensors["rotary.inv_freq"] = torch.tensor(
            (1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.dim_head, 2).float() / cfg.dim_head))).numpy())
        inputs, _ = a2m_inputs(cfg, T=16, Tr=8)
        col = a2m_case(cfg, tensors, inputs)
        save(name, "ics_a2m", cfg, rec, col)

    # Whole offline path: its own JSON (configs, recipes, counts) next to the tensors.
    col, entry = full_window_case()
    safetensors_io.write(os.path.join(args.out, "full_window.safetensors"), col.tensors)
    with open(os.path.join(args.out, "full_window.json"), "w") as f:
        f.write(dump_json(entry) + "\n")
    log(f"wrote full_window ({os.path.getsize(os.path.join(args.out, 'full_window.safetensors')) // 1024} KB)")

    def flush():
        with open(os.path.join(args.out, "fixtures.json"), "w") as f:
            f.write(dump_json(meta) + "\n")

    previous = {}
    if os.path.exists(os.path.join(args.out, "fixtures.json")):  # sections not regenerated keep their entries
        with open(os.path.join(args.out, "fixtures.json")) as f:
            previous = json.load(f)
    for k in ("a2m_full", "hubert_large"):
        if k in previous.get("models", {}):
            meta["models"][k] = previous["models"][k]
    if "streaming_vs_offline" in previous:
        meta["streaming_vs_offline"] = previous["streaming_vs_offline"]

    if not args.tiny_only and not args.skip_hubert:
        # Full-size HuBERT-large (1024-d, 24 layers): 0.4 s of hashed input, column slice + statistics stored.
        cfg = HubertConfig()
        rec = hubert_recipe(cfg)
        log("generating HuBERT-large recipe weights")
        tensors = W.generate_all(rec)
        wave_rec = W.entry("input.wave", [6400], 0.5)
        log("full-size HuBERT")
        col = hubert_case(cfg, tensors, W.generate(wave_rec).numpy(), store_wave=False, head_cols=64)
        save("hubert_large", "hubert", cfg, rec, col, file_inputs=[wave_rec], extra={"head_cols": 64})
        del tensors
        flush()
    if not args.tiny_only:

        # Full-size A2M (256-d, 16 layers): weights and inputs from recipes, outputs stored.
        cfg = A2MConfig()
        rec = a2m_recipe(cfg)
        tensors = W.generate_all(rec)
        tensors["rotary.inv_freq"] = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.dim_head, 2).float() / cfg.dim_head))
        inputs, in_rec = a2m_inputs(cfg, T=24, Tr=16)
        log("full-size A2M")
        col = a2m_case(cfg, tensors, inputs, store_inputs=False, full=True)
        col.tensors["rotary.inv_freq"] = tensors["rotary.inv_freq"]
        save("a2m_full", "ics_a2m", cfg, rec, col, file_inputs=in_rec)
        flush()
        if not args.skip_streaming:
            log("streaming vs offline (full-size A2M, recipe weights)")
            plans = [StreamingPlan(4, 2, 40), StreamingPlan(4, 0, 40), StreamingPlan(8, 4, 40), StreamingPlan(4, 2, 8)]
            meta["streaming_vs_offline"] = {
                "model": "a2m_full recipe weights", "frames": 40, "style_frames": 20, "steps": 4, "cfg_scale": 1.5,
                "rows": streaming_figures(cfg, tensors, T=40, Tr=20, plans=plans)}
    flush()
    log("wrote fixtures.json")


if __name__ == "__main__":
    main()
