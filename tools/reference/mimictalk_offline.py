#!/usr/bin/python3
"""MimicTalk's whole offline inference on one utterance, as upstream computes it (mimictalk_infer.py
`prepare_batch_from_inp` → `forward_audio2secc` → `get_driving_motion` → `forward_secc2video`), read from an
avatard bundle — the yardstick of `avatard render --window full` on a MimicTalk avatar:

1. motion (`full_window.upstream_full_window`): utterance-mode HuBERT, zero rows to the multiple, one flow-matching
   sample of T = t_x / 2 frames prompted by the style clip (`full_window.style_prompt` on the bundle's clip),
   with the seeded session noise (`motion_noise`, the Swift `MotionNoise` draw); the last 4 frames dropped;
2. pose: the identity's pose track (ping-pong, trans-z fixed, map_to_init onto ref_euler/ref_trans) or its static
   reference pose for all T frames; EG3D cameras smoothed over all T (`face_pose.utterance_cameras`);
3. `get_driving_motion` on the kept T − 4 frames: SECC cano = (id, 0), src = (id, exp[0]), tgt[t] = (id, exp[t])
   with the first-face quirk on cano, src and t % 50 == 0 (`secc.triplet`); torso keypoints of exp, euler,
   trans, mapped to [−1, 1] and clamped (`face_pose.torso_keypoints`);
4. `forward_secc2video`: keypoints smoothed over the T − 4 frames (`face_pose.smooth_keypoints`), then per frame
   the renderer (`renderer.Renderer`) with kp_s = src_kp (z = 0), kp_d = (kp, 0), camera[i], the identity's
   ref_torso_img / bg_img / segmap, and the NeRF's uniform draws from `uniform_draws` seeded as the Swift
   frame stage seeds them (`draw_seed`; upstream draws them from torch's global generator, which no port can
   replay, so the draws are an input here as they are in every renderer parity test).

Upstream's default `--blink_mode period` edits the driving SECC maps with randomly timed blinks
(`random.randint`); that is not reproducible either, and the bundle path renders without it (blink_mode none).

  /usr/bin/python3 -m tools.reference.mimictalk_offline --bundle DIR --wav FILE.wav --seed N --out DIR
        [--style NAME] [--steps N] [--cfg-scale X] [--temperature X] [--frames 0,5,…] [--float32]

writes exp.npy [T, 64], keypoints.npy [T − 4, 68, 2], cameras.npy [T, 25] and image_<f>.npy [3, S, S] / frame_<f>.png
(upstream's 8-bit truncation) for the requested frames (default: all T − 4). The WAV's channel 0 is resampled to
16 kHz (`wav_audio.load_16k_mono`); sampler settings default to the bundle's, as the Swift session uses them.
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

from tools.reference import face_model, face_pose, safetensors_io, secc
from tools.reference.a2m import A2M, A2MConfig
from tools.reference.full_window import DROP_LAST_FRAMES, style_prompt, upstream_full_window
from tools.reference.hubert import Hubert, HubertConfig
from tools.reference.motion_noise import motion_noise
from tools.reference.renderer import Renderer
from tools.reference.renderer_config import RendererConfig

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def draw_seed(session, frame):
    """Seed of a frame's NeRF draws (Swift `MimicTalkFrameStage.drawSeed`): session + frame · golden, mod 2^64."""
    return (session + frame * _GOLDEN) & _MASK


def uniform_draws(seed, count):
    """`count` uniforms in [0, 1) as Swift `UniformDraws(seed:)` gives them: SplitMix64 from seed·golden + c,
    the top 24 bits of each output · 2^−24 (exact in float32)."""
    state = (seed * _GOLDEN + 0x632BE59BD9B4E019) & _MASK
    out = np.empty(count, np.float32)
    for i in range(count):
        state = (state + _GOLDEN) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        out[i] = (z >> 40) * (1.0 / (1 << 24))
    return out


def frame_draws(cfg, session, frame):
    """(rand_stratified [1, M, Sc, 1], rand_importance [M, Sf]) of one frame: stratified from the frame's seed,
    importance from seed + 1 (Swift `MimicTalkRenderer.frame(seed:)`), values in C order."""
    m = cfg.nerf_res ** 2
    s = draw_seed(session, frame)
    rs = uniform_draws(s, m * cfg.samples_coarse).reshape(1, m, cfg.samples_coarse, 1)
    ri = uniform_draws((s + 1) & _MASK, m * cfg.samples_fine).reshape(m, cfg.samples_fine)
    return torch.from_numpy(rs), torch.from_numpy(ri)


class Bundle:
    """The tensors of a MimicTalk bundle directory (manifest roles as `convert.py mimictalk` writes them)."""

    def __init__(self, directory):
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = m = json.load(f)

        def tensors(role):
            out = {}
            for w in m[role]["weights"]:
                out.update(safetensors_io.read(os.path.join(directory, w)))
            return out

        for role, kind in (("audio_frontend", "hubert"), ("motion_model", "ics_a2m"),
                           ("renderer", "mimictalk_renderer"), ("identity", "mimictalk_person")):
            if (m.get(role) or {}).get("kind") != kind:
                raise ValueError(f"{directory}/manifest.json: {role} is not of kind {kind!r}")
        self.hubert_config = m["audio_frontend"]["config"]
        self.hubert_cfg = HubertConfig.from_manifest(self.hubert_config)
        self.hubert_tensors = tensors("audio_frontend")
        self.a2m_config = m["motion_model"]["config"]
        self.a2m_cfg = A2MConfig.from_manifest(self.a2m_config)
        self.a2m_tensors = tensors("motion_model")
        self.renderer_cfg = RendererConfig.from_manifest(m["renderer"]["config"])
        self.renderer_tensors = tensors("renderer")
        self.identity = {k: v.double().numpy() for k, v in tensors("identity").items()}
        self.identity_config = m["identity"].get("config") or {}
        self.face = face_model.load(os.path.join(directory, m["face_model"]["weights"][0]))
        self.styles = {s["name"]: s for s in m.get("styles", [])}
        self.default_style = m.get("default_style")
        self.directory = directory

    def style(self, name):
        s = self.styles[name]
        t = safetensors_io.read(os.path.join(self.directory, s["file"]))
        return t[s["motion_tensor"]], t[s["audio_tensor"]].numpy()

    def sampler(self):
        """The bundle's sampler defaults as the Swift `ICSA2MConfig` reads them (top level wins over `sampler`)."""
        nested = self.a2m_config.get("sampler", {})

        def get(key, default):
            return self.a2m_config.get(key, nested.get(key, default))
        return {"steps": int(get("steps", 4)), "cfg_scale": float(get("cfg_scale", 1.5)),
                "temperature": float(get("temperature", 0.3))}

    def poses(self):
        """(ref_euler, ref_trans, track_euler or None, track_trans or None) as the identity holds them."""
        i = self.identity
        track = self.identity_config.get("pose", "static") == "track"
        return (i["ref_euler"], i["ref_trans"], i["pose_euler"] if track else None, i["pose_trans"] if track else None)


@dataclass
class Offline:
    features: torch.Tensor    # [t_x, audio_dim] rows the motion model read (zero rows included)
    exp: np.ndarray           # [T, 64]: the whole sample (upstream keeps the first T − 4)
    kept: int                 # T − 4: frames upstream renders
    keypoints: np.ndarray     # [kept, 68, 2] smoothed, in [−1, 1]
    cameras: np.ndarray       # [T, 25] smoothed over all T
    cano: np.ndarray          # [3, S, S]
    src: np.ndarray           # [3, S, S]


def motion(bundle, wave, seed, style=None, sampler=None, dtype=torch.float64):
    """Steps 1–3 (everything but the renderer) for a 16 kHz waveform (float32 numpy)."""
    style = style or bundle.default_style
    sampler = sampler or bundle.sampler()
    hubert = Hubert(bundle.hubert_cfg, bundle.hubert_tensors, dtype)
    a2m = A2M(bundle.a2m_cfg, bundle.a2m_tensors, dtype)
    chunk = int(bundle.hubert_config.get("chunk_frames", 1000))
    pad = int(bundle.hubert_config.get("pad_rows_multiple", 8))
    prompt = None
    if style is not None:
        style_motion, style_wave = bundle.style(style)
        prompt = style_prompt(hubert, style_motion, torch.from_numpy(style_wave), chunk, pad)
    w = torch.from_numpy(np.asarray(wave, np.float32))
    frames = -(-bundle.hubert_cfg.frames(len(w)) // pad) * pad // 2
    noise = torch.from_numpy(motion_noise(seed, frames, bundle.a2m_cfg.motion_dim))
    r = upstream_full_window(hubert, a2m, w, noise=noise.to(dtype), style=prompt, chunk_frames=chunk, pad_multiple=pad,
                             **sampler)
    exp = r.motion.double().numpy()
    T, kept = exp.shape[0], r.kept
    ref_e, ref_t, track_e, track_t = bundle.poses()
    map_to_init = bool(bundle.identity_config.get("map_to_init_pose", True))
    cameras = face_pose.utterance_cameras(T, ref_e, ref_t, track_e, track_t, map_to_init)
    euler, trans = face_pose.pose_sequence(T, ref_e, ref_t, track_e, track_t, 0, map_to_init)
    ident = bundle.identity["id"]
    kp = face_pose.torso_keypoints(bundle.face, ident, exp[:kept], euler[:kept], trans[:kept])
    kp = face_pose.smooth_keypoints(kp.reshape(kept, -1)).reshape(kept, 68, 2)
    size = bundle.renderer_cfg.img
    cano = secc.secc_map(bundle.face, ident, None, size, True)
    src = secc.secc_map(bundle.face, ident, exp[0], size, True)
    return Offline(r.features, exp, kept, kp, cameras, cano, src)


def render_frame(bundle, offline, frame, seed, renderer=None, dtype=torch.float64):
    """Step 4 for one kept frame: the renderer's image [3, S, S] in [−1, 1] (after the clamp)."""
    if not 0 <= frame < offline.kept:
        raise ValueError(f"frame {frame}: upstream renders frames 0 … {offline.kept - 1}")
    cfg = bundle.renderer_cfg
    renderer = renderer or Renderer(cfg, bundle.renderer_tensors, dtype)
    size = cfg.img
    tgt = secc.secc_map(bundle.face, bundle.identity["id"], offline.exp[frame], size,
                        frame % secc.UPSTREAM_CHUNK == 0)
    ident = bundle.identity

    def t(a, shape):
        return torch.from_numpy(np.asarray(a, np.float64).reshape(shape))
    kp_s = ident["src_kp"].copy()
    kp_s[:, 2] = 0
    kp_d = np.concatenate([offline.keypoints[frame], np.zeros((68, 1))], 1)
    inputs = {"cond_cano": t(offline.cano, [1, 3, size, size]), "cond_src": t(offline.src, [1, 3, size, size]),
              "cond_tgt": t(tgt, [1, 3, size, size]), "ref_torso_img": t(ident["ref_torso_img"], [1, 3, size, size]),
              "bg_img": t(ident["bg_img"], [1, 3, size, size]), "segmap": t(ident["segmap"], [1, 6, size, size]),
              "kp_s": t(kp_s, [1, 68, 3]), "kp_d": t(kp_d, [1, 68, 3]), "camera": t(offline.cameras[frame], [1, 25])}
    rs, ri = frame_draws(cfg, seed, frame)
    with torch.no_grad():
        out = renderer.frame(inputs, rs, ri)
    return out["image"][0].double().numpy()


def render(bundle, wave, seed, frames, style=None, sampler=None, dtype=torch.float64):
    """The offline result: (Offline, {frame: image [3, S, S]}) for the requested kept frames."""
    offline = motion(bundle, wave, seed, style, sampler, dtype)
    renderer = Renderer(bundle.renderer_cfg, bundle.renderer_tensors, dtype)
    return offline, {f: render_frame(bundle, offline, f, seed, renderer, dtype) for f in frames}


def to_uint8(image):
    """Upstream's video write of a [3, S, S] image: ((x + 1) / 2 · 255) in float32, truncated, as [3, S, S] uint8."""
    x = (np.asarray(image, np.float32) + np.float32(1)) / np.float32(2) * np.float32(255)
    return x.astype(np.int64).clip(0, 255).astype(np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--wav", required=True)
    ap.add_argument("--seed", type=int, required=True, help="the session seed (avatard render --seed)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--style")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--cfg-scale", type=float)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--frames", help="comma-separated kept frames to render (default: all)")
    ap.add_argument("--float32", action="store_true", help="float32 instead of float64 (the noise floor)")
    args = ap.parse_args(argv)
    from tools.reference import person_identity, wav_audio
    bundle = Bundle(args.bundle)
    sampler = bundle.sampler()
    for key, value in (("steps", args.steps), ("cfg_scale", args.cfg_scale), ("temperature", args.temperature)):
        if value is not None:
            sampler[key] = value
    dtype = torch.float32 if args.float32 else torch.float64
    offline = motion(bundle, wav_audio.load_16k_mono(args.wav), args.seed & _MASK, args.style, sampler, dtype)
    frames = range(offline.kept) if args.frames is None else [int(f) for f in args.frames.split(",")]
    os.makedirs(args.out, exist_ok=True)
    for name in ("exp", "keypoints", "cameras"):
        np.save(os.path.join(args.out, name + ".npy"), getattr(offline, name).astype("<f4"))
    renderer = Renderer(bundle.renderer_cfg, bundle.renderer_tensors, dtype)
    for f in frames:
        image = render_frame(bundle, offline, f, args.seed & _MASK, renderer, dtype)
        np.save(os.path.join(args.out, f"image_{f}.npy"), image.astype("<f4"))
        person_identity.write_png(os.path.join(args.out, f"frame_{f}.png"), to_uint8(image.astype(np.float32)).transpose(1, 2, 0))
    print(f"mimictalk_offline.py: T = {offline.exp.shape[0]}, kept {offline.kept}; wrote {args.out}", file=sys.stderr)
    return 0


__all__ = ["Bundle", "Offline", "draw_seed", "uniform_draws", "frame_draws", "motion", "render_frame", "render",
           "to_uint8", "DROP_LAST_FRAMES"]


if __name__ == "__main__":
    sys.exit(main())
