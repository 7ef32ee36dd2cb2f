#!/usr/bin/python3
"""Trains the demo avatar's small ICS-A2M on log-mel features of the synthetic corpus (make_dataset.py) and
exports it as avatar-bundle parts. Run with Debian's /usr/bin/python3 (python3-torch).

    /usr/bin/python3 -m tools.demo.train_a2m --data /work/demo-data/a2m --work /work/demo-data/train \
        --minutes 50 --export Avatars/demo

The network is exactly ICS-A2M as docs/motion.md §2 defines it (tools/reference/a2m.py is the executable
definition); this file holds a *batched* copy of that forward for training, whose parameters carry the bundle
tensor names, so export is a plain save. A test (tools/demo/tests/test_train_a2m.py) checks that the exported
tensors run through the reference model give the training forward's velocities.

Training follows the facts of the spec (§3): flow matching with σ = 0 (x_t = (1 − t)·x0 + t·x1, target velocity
x1 − x0), in-context masking (prompt rows carry their motion in `cond`, loss on target rows only), and the CFG
null prompt (`null_cond` on every row) with probability `--cfg-drop`. Sequences are built the way the streaming
sampler sees them: [style clip from elsewhere in the utterance] ‖ [left context] ‖ [targets].

Style: each training sequence gets one random "talking style" applied to prompt and targets alike (mouth
amplitude gain, smile and brow offsets), so the model learns to take the style from the prompt. The exported
style clips (calm, lively) are held-out utterances with a fixed transform.

Digital silence: the daemon feeds exact zeros when audio underruns; log-mel maps them to ln(1e-10). Random
stretches of non-speech are zeroed in training so that input is in-distribution and the face idles there.
Input normalisation (per-band mean and std of the training features) is folded into audio_encoder.conv0 at
export, so the bundle takes raw log-mel rows.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from tools.demo import targets
from tools.reference import conversion, safetensors_io
from tools.reference import a2m as ref
from tools.reference.logmel import LogMelConfig, log_mel
from tools.reference.safetensors_io import write as save_file

HERE = os.path.dirname(os.path.abspath(__file__))

MOUTH = ["jaw_open", "lip_pucker", "lip_funnel", "lip_stretch", "upper_lip_raise", "lower_lip_depress", "lower_lip_tuck"]
SMILE = ["smile_left", "smile_right"]
BROW = ["brow_raise"]
STYLES = {
    "calm": {"mouth_gain": 0.75, "smile": 0.0, "brow": 0.0,
             "description": "small mouth movements, neutral face"},
    "lively": {"mouth_gain": 1.3, "smile": 0.3, "brow": 0.2,
               "description": "wide mouth movements, smiling, raised brows"},
}


def demo_config(motion_dim, audio_dim=80):
    """The demo model: small enough that 2 sessions run live on 2 CPU cores through lavapipe."""
    return ref.A2MConfig(motion_dim=motion_dim, audio_dim=audio_dim, audio_hidden=128, aux=False, dim=128, depth=4,
                         heads=4, dim_head=32, ff_inner=int(128 * 4 * 2 / 3), registers=4, time_hidden=256,
                         conv_kernel=31)


# ---------------------------------------------------------------------------------------------------------------
# data

def load_corpus(data_dirs, cache):
    """Per utterance: log-mel rows [2F, 80] (float32), targets [F, D] (targets.utterance_targets, recomputed from
    the stored phoneme events and audio, so every corpus directory gets today's definition), speech flags [F],
    split. `data_dirs`: one or more make_dataset.py outputs (e.g. espeak-ng and the other engines)."""
    # the targets' definition is part of the key: a cache made by other targets.py / visemes.py is rebuilt
    code = b"".join(open(os.path.join(HERE, f), "rb").read() for f in ("targets.py", "visemes.py"))
    key = "|".join(os.path.abspath(d) for d in data_dirs) + "|" + hashlib.sha256(code).hexdigest()[:16]
    if os.path.exists(cache):
        z = torch.load(cache)
        if z.get("key") == key:
            return z
        print(f"corpus cache {cache} is for other data; rebuilding", file=sys.stderr)
    mel_cfg = LogMelConfig()
    utts = []
    t0 = time.time()
    for data_dir in data_dirs:
        with open(os.path.join(data_dir, "manifest.json")) as f:
            manifest = json.load(f)
        meta = [json.loads(line) for line in open(os.path.join(data_dir, "utterances.jsonl"))]
        by_shard = {}
        for m in meta:
            by_shard.setdefault(m["shard"], []).append(m)
        for shard in manifest["shards"]:
            t, _ = safetensors_io.load_arrays(os.path.join(data_dir, shard))
            for m in by_shard.get(shard, []):
                i = m["index_in_shard"]
                a0, a1 = t["audio_offsets"][i], (t["audio_offsets"][i + 1] if i + 1 < len(t["audio_offsets"]) else len(t["audio"]))
                wave = t["audio"][a0:a1].astype(np.float32) / 32768.0
                y, _, speech = targets.utterance_targets(m, wave)
                mel = log_mel(wave, mel_cfg).numpy()
                rows = min(mel.shape[0] // 2, y.shape[0])
                utts.append({"id": f"{os.path.basename(data_dir)}/{m['id']}", "split": m["split"],
                             "mel": torch.from_numpy(mel[:2 * rows].copy()),
                             "wave": torch.from_numpy(wave[:rows * 640 + 80].copy()),
                             "targets": torch.from_numpy(y[:rows].copy()),
                             "speech": torch.from_numpy(speech[:rows].copy()),
                             "phonemes": m.get("phonemes", []), "voice": m.get("voice", "")})
            print(f"features: {data_dir}/{shard} done, {len(utts)} utterances, {time.time() - t0:.0f} s", file=sys.stderr)
    z = {"key": key, "exp_names": list(targets.MOTION_NAMES), "utts": utts}
    torch.save(z, cache)
    return z


def lip_gap_weights(face_path, names):
    """Inner-lip gap (keypoints 62/66) per unit of each motion dimension, in mm (the face model is linear)."""
    t, meta = safetensors_io.load_arrays(face_path)
    face_names = meta["exp_names"].split(",")
    kp, basis = t["keypoints"], t["exp_basis"]
    b = basis.reshape(t["mean_shape"].shape[0], 3, -1)
    d = b[kp[62], 1] - b[kp[66], 1]
    return torch.tensor([100.0 * float(d[face_names.index(n)]) if n in face_names else 0.0 for n in names])


class Batcher:
    """Random training sequences: [style clip] ‖ [left context] ‖ [targets], all from one utterance."""

    def __init__(self, utts, exp_names, seed, silence_floor):
        self.utts = [u for u in utts if u["targets"].shape[0] >= 48]
        self.rng = np.random.default_rng(seed)
        self.D = len(exp_names)
        self.mouth = [exp_names.index(n) for n in MOUTH if n in exp_names]
        self.smile = [exp_names.index(n) for n in SMILE if n in exp_names]
        self.brow = [exp_names.index(n) for n in BROW if n in exp_names]
        self.floor = silence_floor
        self.head = [exp_names.index(n) for n in targets.HEAD_NAMES if n in exp_names]
        self.head_perturb = 0.5
        # share of batches shaped as the audio context's window: a 1 s style clip, no prompt context, and the
        # context + hop + look-ahead frames all as targets (window_frames)
        self.window_share, self.window_frames = 0.0, 30

    def style(self, y, gain, smile, brow):
        y = y.clone()
        y[:, self.mouth] *= gain
        y[:, self.smile] += smile
        y[:, self.brow] += brow
        return y

    def batch(self, B):
        r = self.rng
        S = int(r.choice([0, 0, 25, 50]))            # style clip frames
        C = int(r.integers(0, 41))                    # left context frames
        T = int(r.integers(6, 33))                     # target frames
        if r.random() < self.window_share:
            S, C, T = 25, 0, self.window_frames
        N = S + C + T
        mel = torch.zeros(B, 2 * N, 80)
        y = torch.zeros(B, N, self.D)
        for b in range(B):
            while True:
                u = self.utts[int(r.integers(len(self.utts)))]
                F_ = u["targets"].shape[0]
                if F_ >= C + T + (S + 4 if S else 0):
                    break
            s0 = int(r.integers(0, F_ - (C + T) + 1))
            feats = u["mel"][2 * s0:2 * (s0 + C + T)].clone()
            tgt = u["targets"][s0:s0 + C + T]
            sp = u["speech"][s0:s0 + C + T]
            if r.random() < 0.5:
                # Digital silence where nobody speaks (what the daemon feeds on underruns and idle).
                quiet = (sp < 0.5).repeat_interleave(2)
                feats[quiet] = self.floor
            if S:
                # A style clip from a part of the utterance that does not overlap the crop.
                choices = [k for k in range(0, F_ - S + 1) if k + S <= s0 or k >= s0 + C + T]
                if not choices:
                    choices = [0]
                k = choices[int(r.integers(len(choices)))]
                feats = torch.cat([u["mel"][2 * k:2 * (k + S)], feats])
                tgt = torch.cat([u["targets"][k:k + S], tgt])
            gain_db = float(r.uniform(-12, 12))
            feats = torch.clamp(feats + 2 * math.log(10 ** (gain_db / 20)), min=self.floor)
            g = float(r.uniform(0.6, 1.4)) if r.random() < 0.8 else 1.0
            sm = float(r.uniform(-0.05, 0.35)) if r.random() < 0.6 else 0.0
            br = float(r.uniform(-0.05, 0.25)) if r.random() < 0.5 else 0.0
            mel[b] = feats
            y[b] = self.style(tgt, g, sm, br)
            if self.head and C and r.random() < self.head_perturb:
                # Exposure bias: in a session the left context is the model's own output, so a small error in
                # the head pose would be continued and accumulate (drift). Offset the context's pose and let the
                # targets return to the true trajectory over ≈0.5 s: the model learns to pull back, not to drift.
                offset = torch.from_numpy(r.normal(0, 0.35, len(self.head))).float()  # 3.5° (units of 10°)
                y[b, S:S + C, self.head] += offset
                decay = torch.exp(-torch.arange(1, T + 1, dtype=torch.float32) / 12.0)
                y[b, S + C:, self.head] += decay[:, None] * offset
        mask = torch.zeros(N, dtype=torch.bool)
        mask[S + C:] = True
        self.last_shape = (S, C, T)
        return mel, y, mask


# ---------------------------------------------------------------------------------------------------------------
# model: a batched copy of tools/reference/a2m.py's forward, parameters named as the bundle tensors

class TrainA2M(torch.nn.Module):
    def __init__(self, cfg, mel_mean, mel_std, seed=0):
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(seed)
        self.names = []
        self.p = torch.nn.ParameterDict()
        for name, shape in ref.tensor_shapes(cfg).items():
            if name == "rotary.inv_freq":
                continue
            self.p[name.replace(".", "__")] = torch.nn.Parameter(self._init(name, shape, g))
            self.names.append(name)
        self.register_buffer("inv_freq", ref.rotary_inv_freq(cfg))
        self.register_buffer("mel_mean", mel_mean)
        self.register_buffer("mel_std", mel_std)
        self._tables = {}

    @staticmethod
    def _init(name, shape, g):
        if name.endswith("gamma.bias") or name == "final_norm.gamma":
            return torch.ones(shape)
        if name.endswith(("q_norm", "k_norm")):
            # Logits are 10·dim_head·γq·γk·cos: γ = 0.3 starts training with attention of moderate sharpness.
            return torch.full(shape, 0.3)
        if name.endswith("gamma.weight") or name.endswith("beta.weight") or name.endswith("beta.bias"):
            return torch.zeros(shape)
        if name.endswith(".bias") or name == "null_cond":
            return torch.zeros(shape)
        if name in ("registers",):
            return torch.randn(shape, generator=g) * 0.02
        if name == "time.freqs":
            return torch.randn(shape, generator=g)
        if name == "output_proj.weight":
            return torch.zeros(shape)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        if name == "conv_embed.weight":
            fan_in = shape[1]
        return (torch.rand(shape, generator=g) * 2 - 1) * math.sqrt(3.0 / fan_in)

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def tables(self, n):
        if n not in self._tables:
            self._tables[n] = ref.rotary_tables(self.inv_freq, n, self.cfg.registers, self.cfg.register_position)
        return self._tables[n]

    def condition(self, mel):
        """mel [B, 2N, 80] (raw log-mel) → cond_emb [B, N, D]."""
        w = self.w
        # Zero-pad the raw rows before normalising: that is what conv0 with the normalisation folded in sees.
        x = ((F.pad(mel, (0, 0, 1, 1)) - self.mel_mean) / self.mel_std).transpose(1, 2)
        h = F.conv1d(x, w("audio_encoder.conv0.weight"), w("audio_encoder.conv0.bias"))
        h = F.conv1d(F.gelu(h), w("audio_encoder.conv1.weight"), padding=1).transpose(1, 2)
        c = F.linear(h, w("cond_proj.weight"), w("cond_proj.bias"))
        return 0.5 * (c[:, 0::2] + c[:, 1::2])

    def ada(self, h, temb, p):
        w = self.w
        gamma = F.linear(temb, w(p + ".gamma.weight"), w(p + ".gamma.bias"))[:, None, :]
        beta = F.linear(temb, w(p + ".beta.weight"), w(p + ".beta.bias"))[:, None, :]
        return F.normalize(h, dim=-1, eps=self.cfg.norm_eps) * (self.cfg.dim ** 0.5) * gamma + beta

    def velocity(self, x, t, cond_emb, cond, mask, drop):
        """x, cond [B, N, D]; t [B]; mask [N] (True = predict); drop [B] bool (CFG null prompt)."""
        cfg, w = self.cfg, self.w
        B, N, _ = x.shape
        m = mask.to(x.dtype)[None, :, None]
        x = x * m
        cond = cond * (1 - m)
        cond = torch.where(drop[:, None, None], w("null_cond").expand(B, N, -1), cond)
        h = F.linear(torch.cat([x, cond_emb, cond], dim=-1), w("input_proj.weight"), w("input_proj.bias"))
        dw = F.conv1d(h.transpose(1, 2), w("conv_embed.weight")[:, None, :], w("conv_embed.bias"),
                      padding=cfg.conv_kernel // 2, groups=cfg.dim).transpose(1, 2)
        h = F.gelu(dw) + h
        f = t[:, None] * w("time.freqs")[None, :] * 2 * ref.FLOAT32_PI
        temb = F.silu(F.linear(torch.cat([f.sin(), f.cos()], dim=-1), w("time.proj.weight"), w("time.proj.bias")))
        if cfg.registers:
            h = torch.cat([w("registers").expand(B, -1, -1), h], dim=1)
        cos, sin = self.tables(N)
        H, Dh = cfg.heads, cfg.dim_head
        for i in range(cfg.depth):
            p = f"layers.{i}."
            a = self.ada(h, temb, p + "attn_norm")
            q, k, v = (z.reshape(B, -1, H, Dh).transpose(1, 2) for z in F.linear(a, w(p + "attn.qkv.weight")).chunk(3, dim=-1))
            q = F.normalize(q, dim=-1, eps=cfg.norm_eps) * w(p + "attn.q_norm")[None, :, None, :] * (Dh ** 0.5)
            k = F.normalize(k, dim=-1, eps=cfg.norm_eps) * w(p + "attn.k_norm")[None, :, None, :] * (Dh ** 0.5)
            q = q * cos + ref._rotate_half(q) * sin
            k = k * cos + ref._rotate_half(k) * sin
            att = torch.softmax(q @ k.transpose(-1, -2) * cfg.attn_scale, dim=-1)
            o = (att @ v).transpose(1, 2).reshape(B, -1, H * Dh)
            h = F.linear(o, w(p + "attn.out.weight")) + h
            ff = F.linear(self.ada(h, temb, p + "ff_norm"), w(p + "ff.in.weight"), w(p + "ff.in.bias"))
            val, gate = ff.chunk(2, dim=-1)
            h = F.linear(F.gelu(gate) * val, w(p + "ff.out.weight"), w(p + "ff.out.bias")) + h
        h = h[:, cfg.registers:]
        h = F.normalize(h, dim=-1, eps=cfg.norm_eps) * (cfg.dim ** 0.5) * w("final_norm.gamma")
        return F.linear(h, w("output_proj.weight"))

    def loss(self, mel, y, mask, cfg_drop, gen, gap_mm=None, gap_weight=0.0, closed_weight=3.0, dim_weights=None):
        """Flow-matching loss on the target rows, plus (gap_weight > 0) the error along the inner-lip-gap
        direction of motion space (gap_mm: mm per unit of each dimension), weighted (1 + closed_weight) on frames
        whose target lips are sealed: the short bilabial closures and the rest pose are what an unweighted
        loss averages away."""
        B, N, D = y.shape
        x0 = torch.randn(B, N, D, generator=gen)
        t = torch.rand(B, generator=gen)
        xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * y
        drop = torch.rand(B, generator=gen) < cfg_drop
        v = self.velocity(xt, t, self.condition(mel), y, mask, drop)
        err = (v - (y - x0))[:, mask]
        loss = (err ** 2).mean() if dim_weights is None else (err ** 2 * dim_weights).mean()
        if gap_weight > 0 and gap_mm is not None and float(gap_mm.abs().max()) > 0:
            unit = gap_mm / gap_mm.abs().max()
            gap_err = err @ unit
            sealed = ((y[:, mask] @ gap_mm) <= 1.0).to(err.dtype)
            loss = loss + gap_weight * ((1 + closed_weight * sealed) * gap_err ** 2).mean() / D
        return loss

    @torch.no_grad()
    def sample_rows(self, mel, y, first, steps, temperature, gen):
        """The model's own sample of rows first.. of each sequence given rows :first as prompt (what the
        reference sampler computes with cfg_scale 1: midpoint rule on time_grid(steps))."""
        B, N, D = y.shape
        mask = torch.zeros(N, dtype=torch.bool)
        mask[first:] = True
        cond_emb = self.condition(mel)
        drop = torch.zeros(B, dtype=torch.bool)
        x = torch.randn(B, N, D, generator=gen) * temperature
        grid = ref.time_grid(steps)
        for t0, t1 in zip(grid[:-1], grid[1:]):
            dt, half = t1 - t0, 0.5 * (t1 - t0)
            v0 = self.velocity(x, torch.full((B,), t0), cond_emb, y, mask, drop)
            vm = self.velocity(x + half * v0, torch.full((B,), t0 + half), cond_emb, y, mask, drop)
            x = x + dt * vm
        return x[:, first:]

    def self_context(self, mel, y, shape, taus, steps, temperature, gen):
        """Exposure bias: a session's left context is the model's own earlier output, not the truth, and a
        model trained on true context leans on it (held-out jaw correlation 0.88 with true context, 0.69 with
        its own). Replace the context rows by the model's own sample of them (given the style clip and the
        context's audio only, as at a window's end) and let the targets return from the context's last error to
        the truth with per-dimension time constants `taus` (frames): continue smoothly, then follow the audio."""
        S, C, T = shape
        if C == 0:
            return y
        own = self.sample_rows(mel[:, :2 * (S + C)], y[:, :S + C], S, steps, temperature, gen)
        y = y.clone()
        err = own[:, -1] - y[:, S + C - 1]
        y[:, S:S + C] = own
        k = torch.arange(1, T + 1, dtype=y.dtype)[:, None]
        y[:, S + C:] += torch.exp(-k / taus[None, :]) * err[:, None, :]
        return y

    def bundle_tensors(self):
        """Bundle tensors (docs/motion.md §4.3) with the input normalisation folded into audio_encoder.conv0."""
        out = {n: self.w(n).detach().clone().float() for n in self.names}
        w0, b0 = out["audio_encoder.conv0.weight"], out["audio_encoder.conv0.bias"]
        scale = (1.0 / self.mel_std)[None, :, None]
        out["audio_encoder.conv0.weight"] = w0 * scale
        out["audio_encoder.conv0.bias"] = b0 - (w0 * scale * self.mel_mean[None, :, None]).sum(dim=(1, 2))
        out["rotary.inv_freq"] = self.inv_freq.clone()
        return out


# ---------------------------------------------------------------------------------------------------------------

def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    data = [args.data] if isinstance(args.data, str) else args.data
    corpus = load_corpus(data, os.path.join(args.work, "corpus.pt"))
    exp_names = corpus["exp_names"]
    train_utts = [u for u in corpus["utts"] if u["split"] == "train"]
    floor = math.log(LogMelConfig().log_floor)
    allmel = torch.cat([u["mel"] for u in train_utts[:400]])
    mean, std = allmel.mean(0), allmel.std(0).clamp(min=1e-3)
    cfg = demo_config(len(exp_names))
    model = TrainA2M(cfg, mean, std, seed=args.seed)
    gap_mm = lip_gap_weights(args.face, exp_names)
    ckpt = os.path.join(args.work, "ckpt.pt")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    step, before = 0, 0.0
    if args.init and not os.path.exists(ckpt):
        # fine-tuning: the weights of another run, a fresh optimizer and schedule (warm-up, cosine over --minutes)
        z = torch.load(args.init)
        if z.get("exp_names") != exp_names:
            raise SystemExit(f"{args.init}: trained for motion {z.get('exp_names')}, the corpus has {exp_names}")
        model.load_state_dict(z["model"])
        print(f"initialised from {args.init} (step {z['step']})", file=sys.stderr)
    elif os.path.exists(ckpt) and not args.fresh:
        z = torch.load(ckpt)
        if z.get("exp_names") != exp_names:
            raise SystemExit(f"{ckpt}: trained for motion {z.get('exp_names')}, the corpus has {exp_names}; use --fresh")
        model.load_state_dict(z["model"])
        opt.load_state_dict(z["opt"])
        step, before = z["step"], float(z.get("elapsed", 0.0))
        # --minutes is the whole run's budget: a resumed run (e.g. with more corpus directories) continues the
        # cosine schedule where the checkpoint left it
        print(f"resumed at step {step} after {before / 60:.1f} min", file=sys.stderr)
    batcher = Batcher(train_utts, exp_names, args.seed + step, floor)
    batcher.window_share = args.window_batches
    batcher.window_frames = (SAMPLER_DEFAULTS["stream_left_context"] + SAMPLER_DEFAULTS["stream_hop"]
                             + SAMPLER_DEFAULTS["stream_lookahead"])
    gen = torch.Generator().manual_seed(args.seed + 1 + step)
    head = [exp_names.index(n) for n in targets.HEAD_NAMES if n in exp_names]
    dim_weights = None
    if args.head_weight != 1.0 and head:
        dim_weights = torch.ones(len(exp_names))
        dim_weights[head] = args.head_weight
        dim_weights *= len(exp_names) / float(dim_weights.sum())  # the same total weight
    taus = torch.full((len(exp_names),), float(args.self_context_tau))
    taus[head] = 12.0  # the head returns over ≈0.5 s, as with the perturbation above
    self_rng = np.random.default_rng(args.seed + 7 + step)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.2f} M parameters, config {json.dumps(cfg.manifest())}", file=sys.stderr)
    t0 = time.time() - before
    deadline = t0 + args.minutes * 60
    last_save = time.time()
    ema = None
    while (args.steps and step < args.steps) or (not args.steps and time.time() < deadline):
        frac = (time.time() - t0) / (args.minutes * 60) if not args.steps else step / args.steps
        lr = args.lr * min(1.0, (step + 1) / 300) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        mel, y, mask = batcher.batch(args.batch)
        if args.self_context > 0 and self_rng.random() < args.self_context:
            y = model.self_context(mel, y, batcher.last_shape, taus, SAMPLER_DEFAULTS["steps"],
                                   SAMPLER_DEFAULTS["temperature"], gen)
        loss = model.loss(mel, y, mask, args.cfg_drop, gen, gap_mm=gap_mm, gap_weight=args.gap_weight,
                          closed_weight=args.closed_weight, dim_weights=dim_weights)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 50 == 0:
            el = time.time() - t0
            print(f"step {step} loss {ema:.4f} lr {lr:.2e} {step / max(el, 1e-9):.2f} it/s elapsed {el / 60:.1f} min "
                  f"left {max(0, deadline - time.time()) / 60:.1f} min", file=sys.stderr, flush=True)
        if time.time() - last_save > 180 or (args.steps and step == args.steps):
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cfg": cfg.manifest(),
                        "exp_names": exp_names, "elapsed": time.time() - t0}, ckpt)
            last_save = time.time()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cfg": cfg.manifest(),
                "exp_names": exp_names, "elapsed": time.time() - t0}, ckpt)
    print(f"trained {step} steps in {(time.time() - t0) / 60:.1f} min"
          + (f", loss {ema:.4f}" if ema is not None else " (the checkpoint's budget was already spent)"), file=sys.stderr)
    return model, corpus


def load_checkpoint(work):
    z = torch.load(os.path.join(work, "ckpt.pt"))
    cfg = ref.A2MConfig.from_manifest(z["cfg"])
    sd = z["model"]
    model = TrainA2M(cfg, sd["mel_mean"], sd["mel_std"])
    model.load_state_dict(sd)
    return model, z["exp_names"]


def style_clip(corpus, exp_names, name, seconds=1.0, offset=1.0):
    """A held-out utterance (validation split) with the style's fixed transform: motion [F, D] + audio, the
    `seconds` from `offset` on. 1 s from 1 s: a 25-frame prompt keeps the style (smile, brows) and the held-out
    figures of the 50-frame one while the streaming window shrinks from 64 to 39 rows (docs/demo-avatar.md §7)."""
    val = [u for u in corpus["utts"] if u["split"] == "val"]
    u = val[min(0 if name == "calm" else 1, len(val) - 1)]
    start = min(int(offset * 25), max(0, u["targets"].shape[0] - 1))
    F_ = min(int(seconds * 25), u["targets"].shape[0] - start)
    s = STYLES[name]
    b = Batcher([u], exp_names, 0, 0.0)
    y = b.style(u["targets"][start:start + F_], s["mouth_gain"], s["smile"], s["brow"])
    wave = u["wave"][start * 640:(start + F_) * 640 + 80]
    return y.float(), wave.float(), u["id"]


def export(model, exp_names, corpus, out_dir, defaults):
    os.makedirs(out_dir, exist_ok=True)
    tensors, cfg = conversion.pad_feed_forward(model.bundle_tensors(), model.cfg)
    save_file(os.path.join(out_dir, "a2m.safetensors"), tensors)
    styles, clip_tensors = [], {}
    for name in STYLES:
        motion, wave, uid = style_clip(corpus, exp_names, name)
        clip_tensors[f"{name}.motion"] = motion.contiguous()
        clip_tensors[f"{name}.audio"] = wave.contiguous()
        styles.append({"name": name, "description": STYLES[name]["description"] + f" (from held-out utterance {uid})",
                       "file": "styles.safetensors", "motion_tensor": f"{name}.motion", "audio_tensor": f"{name}.audio"})
    save_file(os.path.join(out_dir, "styles.safetensors"), clip_tensors)
    config = cfg.manifest()
    config.update(defaults)
    head = [exp_names.index(n) for n in targets.HEAD_NAMES if n in exp_names]
    if head:
        # With the motion context the window continued its own output and the head's yaw ran away (to −45° in a
        # minute without a style prompt); the audio context feeds nothing back, and the limit stays as a bound
        # on the output. 0.8 = 8°, inside the targets' ±9° range.
        config.update({"stream_limit_dims": head, "stream_limit": HEAD_LIMIT})
        # The random part of the head's targets (phrase turns, sway) is drawn from the noise; at the mouth's
        # temperature it shrank to half the targets' spread. The head is sampled at temperature 1, the
        # distribution the model was trained on.
        config.update({"temperature_dims": head,
                       "temperature_dims_scale": round(HEAD_TEMPERATURE / config["temperature"], 4)})
    manifest_path = os.path.join(out_dir, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    manifest.update({
        "format": "avatard-bundle", "version": 1, "name": "demo",
        "description": "avatard's built-in demo avatar: a procedural head driven by a small ICS-A2M trained on synthetic speech",
        "video": manifest.get("video", {"width": 384, "height": 384, "fps": 25}),
        "audio_frontend": {"kind": "log_mel", "weights": [], "config": LogMelConfig().manifest()},
        "motion_model": {"kind": "ics_a2m", "weights": ["a2m.safetensors"], "config": config,
                         "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())}},
        "styles": styles, "default_style": "calm", "motion_names": exp_names,
    })
    if head:
        manifest["motion_smoothing"] = {"dimensions": list(targets.HEAD_NAMES), "time_constant_s": HEAD_SMOOTHING_S}
    manifest.setdefault("face_model", {"kind": "avatard_face", "weights": ["face.safetensors"]})
    manifest.setdefault("renderer", {"kind": "raster_preview", "weights": []})
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"exported {out_dir}: a2m.safetensors ({os.path.getsize(os.path.join(out_dir, 'a2m.safetensors')) / 1e6:.2f} MB), "
          f"styles.safetensors, manifest.json", file=sys.stderr)


HEAD_LIMIT = 0.8          # soft limit of the head pose, units of 10°
HEAD_TEMPERATURE = 1.0   # sampling temperature of the head pose (the mouth's is SAMPLER_DEFAULTS')
HEAD_SMOOTHING_S = 0.15   # motion_smoothing time constant of the head pose (jitter between windows)
# docs/motion.md §2.3: the audio context (nothing fed back) hears 1 s of past audio and needs 1 frame of look-ahead
SAMPLER_DEFAULTS = {"steps": 2, "cfg_scale": 1.0, "temperature": 0.3, "stream_hop": 4, "stream_lookahead": 1,
                    "stream_left_context": 25, "stream_context": "audio"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append",
                   help="make_dataset.py output directory; repeat for several (default /work/demo-data/a2m)")
    p.add_argument("--face", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "Avatars", "demo", "face.safetensors"),
                   help="face model whose inner-lip keypoints define the lip-gap loss")
    p.add_argument("--gap-weight", type=float, default=8.0, help="weight of the lip-gap direction in the loss (0: off)")
    p.add_argument("--closed-weight", type=float, default=3.0, help="extra weight of sealed-lip frames in that term")
    p.add_argument("--work", default="/work/demo-data/train")
    p.add_argument("--minutes", type=float, default=50)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps instead of --minutes")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--cfg-drop", type=float, default=0.15)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; 1 is fastest on a shared 2-core machine (2 threads ran 7× slower next to a build)")
    p.add_argument("--seed", type=int, default=20251122)
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--init", help="fine-tune: start from this checkpoint's weights (fresh optimizer and schedule) "
                                  "when --work holds no checkpoint yet")
    p.add_argument("--self-context", type=float, default=0.0,
                   help="share of batches whose left context is the model's own sample (exposure bias; 0: off)")
    p.add_argument("--head-weight", type=float, default=1.0,
                   help="weight of the head-pose dimensions in the flow-matching loss (total weight kept)")
    p.add_argument("--window-batches", type=float, default=0.0,
                   help="share of batches shaped as the audio context's window (1 s style clip, context + hop + "
                        "look-ahead frames as targets)")
    p.add_argument("--self-context-tau", type=float, default=3.0,
                   help="frames over which targets return from the own context's error to the truth (head: 12)")
    p.add_argument("--export", help="bundle directory to write a2m.safetensors, styles.safetensors, manifest.json")
    p.add_argument("--export-only", action="store_true", help="export the checkpoint in --work without training")
    args = p.parse_args()
    args.data = args.data or ["/work/demo-data/a2m"]
    if args.export_only:
        model, exp_names = load_checkpoint(args.work)
        corpus = load_corpus(args.data, os.path.join(args.work, "corpus.pt"))
    else:
        model, corpus = train(args)
        exp_names = corpus["exp_names"]
    if args.export:
        export(model, exp_names, corpus, args.export, SAMPLER_DEFAULTS)


if __name__ == "__main__":
    main()
