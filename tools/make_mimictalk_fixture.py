#!/usr/bin/python3
"""Writes Tests/Fixtures/mimictalk/: a small, complete MimicTalk avatar bundle made by the ONE command
`convert.py mimictalk` from synthetic inputs in the official formats (the Swift end-to-end tests serve it).

  /usr/bin/python3 -m tools.make_mimictalk_fixture [--out DIR] [--keep-inputs DIR]

Inputs (written to a temporary directory, or kept in --keep-inputs):
- person/: a MimicTalk person checkpoint (legacy pickle + config.yaml) of RendererConfig.small() (64² output),
  tools/synth_checkpoint.py;
- a2m/model_ckpt_steps_1000.ckpt: a tiny ICS-A2M (A2MConfig.tiny with motion dim 64, audio input 24);
- hubert/: a tiny HuBERT (HubertConfig.tiny(), hidden 24) as a Hugging Face directory (model.safetensors);
- BFM/ + upstream/deep_3drecon/: synthetic BFM files (tools/synth_bfm.py, the 7×5 grid face), with a fixed
  MATLAB header text so the files' bytes (whose SHA-256 the manifest records) never change;
- segmaps/00000000.png: a 64² segmentation in upstream's class colours (head, hair, neck, clothes, an accessory,
  background), written with every PNG row filter;
- pose_track.npy: an upstream-style pickled fit dict (euler, trans, exp, id) of 30 frames;
- style "calm": calm_exp.npy [25, 64] and calm.wav (1 s, 22.05 kHz stereo 16-bit: resampled, channel 0).
Then `offline.safetensors` (tools/make_mimictalk_offline_fixture.py): upstream's offline result for a 1 s utterance
on this bundle. Checkpoints are written with synth_checkpoint.save_legacy(stable=True), so the fixture is byte-reproducible
(tools/tests/test_mimictalk_convert.py regenerates it and compares every file).
"""
import argparse
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

from tools import convert, make_mimictalk_offline_fixture, synth_bfm, synth_checkpoint
from tools.reference import person_identity
from tools.reference.a2m import A2MConfig
from tools.reference.hubert import HubertConfig
from tools.reference.renderer_config import RendererConfig

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "mimictalk")
SEED = 31
STYLE_FRAMES, STYLE_RATE = 25, 22050
MAT_HEADER = b"MATLAB 5.0 MAT-file, synthetic BFM written by tools/make_mimictalk_fixture.py"


def fix_mat_header(path):
    """scipy's savemat writes the creation time into the 116-byte descriptive text; make it constant."""
    with open(path, "r+b") as f:
        f.write(MAT_HEADER.ljust(116, b" "))


def segmentation(size):
    """One-hot [6, S, S]: background, hair on top of a face ellipse, an accessory, a neck and clothes below."""
    y, x = np.mgrid[0:size, 0:size] / size
    labels = np.zeros((size, size), np.int64)
    face = ((x - 0.5) / 0.2) ** 2 + ((y - 0.42) / 0.25) ** 2 <= 1
    labels[face] = 3
    labels[face & (y < 0.3)] = 1
    labels[(np.abs(x - 0.5) < 0.09) & (y >= 0.62) & (y < 0.82)] = 2
    labels[(np.abs(x - 0.5) < 0.3) & (y >= 0.8)] = 4
    labels[(np.abs(x - 0.33) < 0.03) & (np.abs(y - 0.45) < 0.05)] = 5
    return np.stack([labels == c for c in range(6)]).astype(np.uint8)


def write_wav(path, samples, rate):
    """16-bit PCM WAV, [N, C] in [-1, 1]."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    channels = samples.shape[1]
    data = pcm.tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def write_inputs(d):
    """Writes the synthetic inputs under d; returns the convert.py mimictalk arguments (without --out)."""
    cfg = RendererConfig.small()
    synth_checkpoint.write_person(os.path.join(d, "person"), cfg, seed=SEED, stable=True)
    a2m_cfg = A2MConfig.tiny(audio_dim=24)
    a2m_cfg.motion_dim = 64
    os.makedirs(os.path.join(d, "a2m"))
    synth_checkpoint.write_a2m(os.path.join(d, "a2m", "model_ckpt_steps_1000.ckpt"), a2m_cfg, seed=SEED + 1, stable=True)
    synth_checkpoint.write_hubert(os.path.join(d, "hubert"), HubertConfig.tiny(), seed=SEED + 2, fmt="safetensors")
    bfm, upstream = os.path.join(d, "BFM"), os.path.join(d, "upstream")
    synth_bfm.write(bfm, upstream, seed=SEED + 3)
    for name in os.listdir(bfm):
        if name.endswith(".mat"):
            fix_mat_header(os.path.join(bfm, name))
    os.makedirs(os.path.join(d, "segmaps"))
    segmap = os.path.join(d, "segmaps", "00000000.png")
    person_identity.write_png(segmap, person_identity.encode_segmap(segmentation(cfg.img)), filters=(0, 1, 2, 3, 4))
    rng = np.random.default_rng(SEED + 4)
    t = np.arange(30)[:, None]
    fit = {"euler": 0.08 * np.sin(t / 5.0 + np.array([0.0, 1.0, 2.0])),
           "trans": np.array([0.02, -0.01, 0.3]) + 0.03 * np.cos(t / 7.0 + np.array([0.0, 0.5, 1.0])),
           "exp": rng.normal(0, 0.1, (30, 64)), "id": rng.normal(0, 0.3, (30, 80))}
    np.save(os.path.join(d, "pose_track.npy"), fit, allow_pickle=True)
    exp = np.cumsum(rng.normal(0, 0.05, (STYLE_FRAMES, 64)), 0).astype(np.float32)
    np.save(os.path.join(d, "calm_exp.npy"), exp)
    n = STYLE_FRAMES * STYLE_RATE // 25
    tt = np.arange(n) / STYLE_RATE
    voice = 0.3 * np.sin(2 * np.pi * 180 * tt) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * tt))
    write_wav(os.path.join(d, "calm.wav"), np.stack([voice, 0.5 * voice[::-1]], 1), STYLE_RATE)
    return ["mimictalk", "--person", os.path.join(d, "person"), "--a2m", os.path.join(d, "a2m"),
            "--hubert", os.path.join(d, "hubert"), "--bfm-dir", bfm, "--upstream", upstream, "--segmap", segmap,
            "--pose", os.path.join(d, "pose_track.npy"),
            "--style", f"calm={os.path.join(d, 'calm_exp.npy')},{os.path.join(d, 'calm.wav')}",
            "--name", "fixture_mimictalk"]


README = """# Synthetic MimicTalk avatar bundle

Written by `/usr/bin/python3 -m tools.make_mimictalk_fixture` (do not edit by hand): the ONE command
`tools/convert.py mimictalk` run on synthetic inputs in the official formats — a small person checkpoint
(RendererConfig.small(), 64² output), a tiny ICS-A2M (motion dim 64, audio input 24), a tiny HuBERT (hidden 24),
the synthetic BFM files of tools/synth_bfm.py (7×5 grid face), a 64² segmentation PNG in upstream's class colours,
a 30-frame pose track (upstream-style pickled fit dict) and one style clip (`calm`, 25 frames, 1 s of 22.05 kHz
stereo audio). Same code path as a full-size avatar; weights are random, so the face is not a face.

Files: `manifest.json` (roles audio_frontend hubert, motion_model ics_a2m, face_model bfm09_front, renderer
mimictalk_renderer, identity mimictalk_person, styles, default_style, motion_names), `hubert.safetensors`,
`a2m.safetensors`, `face_model.safetensors`, `renderer.safetensors`, `identity.safetensors`, `styles.safetensors`.
Tensors and conventions: docs/avatars.md §6.

`offline.safetensors` is not part of the bundle (the manifest does not name it): upstream's whole offline result
for a 1 s synthetic utterance on this bundle, computed by `tools/reference/mimictalk_offline.py` in float64 and
written by `tools/make_mimictalk_offline_fixture.py` — the waveform, the HuBERT rows, the sampled expressions
[T, 64], the smoothed torso keypoints of the T − 4 rendered frames, the cameras [T, 25], six rendered images
[3, 64, 64] (frames 0 … T − 5) and the float32 noise floor of each (`f32_error.*`). Swift:
`MimicTalkOfflineParityTests` (docs/avatars.md §6.6). Byte-reproducible: `tools/tests/test_mimictalk_convert.py`
regenerates it and compares every file.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--keep-inputs", help="write the synthetic inputs here instead of a temporary directory")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = args.keep_inputs or os.path.join(tmp, "inputs")
        if os.path.exists(inputs):
            shutil.rmtree(inputs)
        os.makedirs(inputs)
        argv = write_inputs(inputs)
        if os.path.isdir(args.out):
            shutil.rmtree(args.out)
        rc = convert.main(argv + ["--out", args.out] + (["--quiet"] if args.quiet else []))
        if rc != 0:
            raise SystemExit(f"convert.py mimictalk failed ({rc})")
    make_mimictalk_offline_fixture.write(args.out, os.path.join(args.out, make_mimictalk_offline_fixture.FILE))
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README)
    if not args.quiet:
        size = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
        print(f"wrote {args.out} ({size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
