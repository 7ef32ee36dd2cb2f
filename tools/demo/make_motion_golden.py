#!/usr/bin/python3
"""Write Tests/Fixtures/demo/motion_golden.safetensors: what a live session of the shipped demo bundle must emit
for one utterance, computed by the reference (tools/reference/a2m.py through tools/demo/eval_a2m.py), so the Swift
test `DemoMotionGoldenTests` holds the daemon's streaming path to the figures docs/demo-avatar.md §7 reports.

    /usr/bin/python3 -m tools.demo.make_motion_golden --data /work/demo-data/a2m

The utterance is a held-out espeak-ng sentence of the synthetic corpus (make_dataset.py; `--utterance`) with
0.5 s of digital silence appended, cut to whole motion frames plus the 80 samples the last feature row needs.
Tensors:
  wave F32[N]                16 kHz samples (int16 / 32768, as the corpus stores them)
  stream F32[F, D]           the session's frames: the bundle's sliding window (its streaming plan and context,
                             the daemon's padded start and padded last window), the session noise of `seed`
                             (tools/reference/motion_noise.py), the bundle's sampler and head smoothing
  full F32[F + 1, D]         the full window (`--window full`): one offline sample over all rows, same noise; the
                             session's feature rows are odd (one per 20 ms of audio, the last one zero-padded),
                             so it samples one more frame, whose second row is a silence row
Metadata: the bundle files' SHA-256 (the test refuses a stale golden), seed, utterance id and text.
Regenerate whenever Avatars/demo's a2m.safetensors, styles.safetensors or manifest.json change.
"""
import argparse
import hashlib
import json
import math
import os

import numpy as np
import torch

from tools.demo import eval_a2m
from tools.reference import a2m as ref
from tools.reference import safetensors_io
from tools.reference.motion_noise import motion_noise

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
BUNDLE = os.path.join(REPO, "Avatars", "demo")
OUT = os.path.join(REPO, "Tests", "Fixtures", "demo", "motion_golden.safetensors")
HASHED = ("a2m.safetensors", "styles.safetensors", "manifest.json")


def bundle_digest(directory):
    h = hashlib.sha256()
    for name in HASHED:
        with open(os.path.join(directory, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def session_stream(b, feats, style, noise):
    """The daemon's streaming session (A2MMotionStage with a padded context, then flush): the reference window
    with the padded start of eval_a2m.run_stream, and a last window filled with silence rows (and the session's
    next noise rows) up to the window length, of which only the real frames are kept."""
    hop, la, lc = b.plan
    F_ = feats.shape[0] // 2
    tail = hop + la
    silence = torch.full((2 * tail, feats.shape[1]), math.log(b.mel.log_floor), dtype=feats.dtype)
    out = eval_a2m.run_stream(b, torch.cat([feats, silence]), style, noise, b.plan)
    return out[:F_]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/demo-data/a2m", help="make_dataset.py output with the utterance")
    p.add_argument("--utterance", default="u000087")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--bundle", default=BUNDLE)
    p.add_argument("--out", default=OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    b = eval_a2m.Bundle(args.bundle)
    utts, _, _ = eval_a2m.load_val([args.data], 10_000, 60.0)
    u = next((u for u in utts if u["id"] == args.utterance), None)
    if u is None:
        raise SystemExit(f"{args.data}: no held-out utterance {args.utterance}")
    wave = np.concatenate([u["wave"], np.zeros(8000, np.float32)])
    F_ = (len(wave) - 80) // 640
    wave = wave[:F_ * 640 + 80].astype(np.float32)
    feats = b.features(wave)
    assert feats.shape[0] == 2 * F_, (feats.shape, F_)
    style = b.style(b.default_style)
    hop, la, _ = b.plan
    noise = torch.from_numpy(motion_noise(args.seed, F_ + hop + la, b.cfg.motion_dim))
    stream = session_stream(b, feats, style, noise)
    Tr = style.motion.shape[0]
    rows = b.features(np.concatenate([wave, np.zeros(640, np.float32)]))
    assert rows.shape[0] == 2 * (F_ + 1) and torch.equal(rows[:2 * F_], feats)
    full = b.smooth(ref.sample(b.model, rows, style=style,
                               noise=torch.cat([torch.zeros(Tr, noise.shape[1]), noise[:F_ + 1]]), **b.sampler))
    safetensors_io.save_arrays(args.out, {"wave": wave, "stream": stream.numpy().astype(np.float32),
                                          "full": full.numpy().astype(np.float32)},
                               {"bundle_sha256": bundle_digest(args.bundle), "seed": str(args.seed),
                                "utterance": u["id"], "text": u["text"], "voice": u["voice"],
                                "style": b.default_style, "plan": json.dumps(list(b.plan)),
                                "context": b.window["context"]})
    print(f"{args.out}: {F_} frames, {os.path.getsize(args.out) // 1024} KB, \"{u['text']}\" ({u['voice']})")


if __name__ == "__main__":
    main()
