#!/usr/bin/python3
"""Converts official checkpoints into avatard bundles (docs/avatars.md "From your checkpoints to a bundle").

  /usr/bin/python3 -m tools.convert mimictalk --person P --a2m A --hubert H --bfm-dir B --upstream U
        (--segmap FILE | --segment-model MODEL.tflite)
        [--pose TRACK.npy [--ref-pose "rx,ry,rz,tx,ty,tz"] | --pose-static "rx,ry,rz,tx,ty,tz"]
        [--style NAME=EXP.npy,AUDIO.wav ...] [--default-style NAME] [--name N] --out BUNDLE_DIR
  /usr/bin/python3 -m tools.convert a2m --checkpoint model_ckpt_steps_N.ckpt (--hubert HF_DIR | --frontend log_mel)
        --out BUNDLE_DIR [--name N]
  /usr/bin/python3 -m tools.convert person --checkpoint DIR_OR_FILE --out BUNDLE_DIR [--name NAME]
  /usr/bin/python3 -m tools.convert hubert --hubert HF_DIR --out DIR                        (building block)
  /usr/bin/python3 -m tools.convert face-model --bfm-dir deep_3drecon/BFM --upstream MIMICTALK_CHECKOUT --out DIR
                                                                                             (building block)

mimictalk: ONE complete MimicTalk avatar bundle: audio front-end (HuBERT), motion model (ICS-A2M), face model
(bfm09_front), renderer (mimictalk_renderer), identity (mimictalk_person: person_ds + the per-identity constants
computed here: torso reference, background, segmentation, reference pose and pose track), style clips and
manifest.json. a2m: a complete motion-only bundle (audio front-end + motion model + manifest.json). person: a complete
renderer-only bundle (renderer + identity + manifest.json; `avatard renderer frame` renders it). hubert and
face-model write one component's weights and its manifest entry (`*.component.json`) for inspection; they are the
building blocks `mimictalk` runs, never something to merge by hand.

Safety: checkpoints (the legacy-pickle .ckpt and pytorch_model.bin), pose tracks and pickled expression tracks are
read with restricted unpicklers that accept only tensors/arrays, containers and plain values; anything else in a
pickle is refused and nothing from the file is executed. model.safetensors is read as data only.
Progress goes to stderr; a refused input exits with status 2 and a message naming the file, the key and what was
expected. manifest.json is written last: a directory without one is not a bundle.

Layout details: docs/motion.md §4 (a2m, hubert), docs/renderer.md §4 (person), docs/avatars.md (face model,
identity constants, styles, the mimictalk bundle).
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time

import numpy as np

from tools.reference import (conversion, face_model, person_identity, pose_track, renderer_conversion, restricted_load,
                             safetensors_io, wav_audio)
from tools.reference.a2m import tensor_shapes as a2m_shapes
from tools.reference.hubert import HubertConfig, tensor_shapes as hubert_shapes
from tools.reference.logmel import LogMelConfig

FPS = 25
SAMPLES_PER_FRAME = wav_audio.RATE // FPS
SMOOTHING_FRAMES = 7
REFUSED = (ValueError, KeyError, OSError)  # LayoutError, UnsafePickleError, FaceModelError, IdentityError, ... are ValueErrors


class Progress:
    def __init__(self, quiet=False):
        self.quiet, self.start = quiet, time.time()

    def __call__(self, msg):
        if not self.quiet:
            print(f"[{time.time() - self.start:6.1f}s] {msg}", file=sys.stderr, flush=True)


def sha256(path, progress):
    h = hashlib.sha256()
    size, done, last = os.path.getsize(path), 0, time.time()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
            done += len(block)
            if time.time() - last > 2:
                progress(f"  hashing {os.path.basename(path)}: {100 * done // max(size, 1)}%")
                last = time.time()
    return h.hexdigest()


def convert_hubert(hf_dir, out_dir, progress):
    progress(f"reading HuBERT directory {hf_dir}")
    hf_cfg, sd = conversion.read_hf_directory(hf_dir)
    cfg = HubertConfig.from_hf(hf_cfg)
    _, ignored = conversion.hubert_encoder_state(sd)
    if ignored:
        progress(f"  ignoring {len(ignored)} non-encoder keys ({', '.join(ignored[:4])}{', ...' if len(ignored) > 4 else ''})")
    progress(f"  {cfg.num_layers} layers, hidden {cfg.hidden_size}, heads {cfg.num_heads}, "
             f"norm '{cfg.feat_extract_norm}', stable layer norm {cfg.stable_layer_norm}; folding weight norm")
    tensors = conversion.hubert_bundle_tensors(sd, cfg)
    path = os.path.join(out_dir, "hubert.safetensors")
    progress(f"writing {path} ({sum(t.numel() for t in tensors.values()) / 1e6:.1f} M values)")
    safetensors_io.write(path, tensors, metadata={"format": "avatard", "kind": "hubert"})
    config = cfg.manifest()
    config["source"] = {"directory": os.path.basename(os.path.normpath(hf_dir)), "model_type": hf_cfg.get("model_type", "hubert")}
    return cfg, {"kind": "hubert", "weights": ["hubert.safetensors"], "config": config,
                 "tensors": hubert_shapes(cfg)}


def convert_a2m(ckpt, out_dir, progress):
    progress(f"loading {ckpt} with the restricted unpickler")
    obj = restricted_load.load(ckpt)
    sd = conversion.a2m_state_dict(obj)
    progress(f"  {len(sd)} model tensors; detecting layout from shapes")
    cfg = conversion.detect_a2m(sd)
    progress(f"  ICS-A2M: dim {cfg.dim}, depth {cfg.depth}, heads {cfg.heads}x{cfg.dim_head}, registers "
             f"{cfg.registers}, audio {cfg.audio_dim}->{cfg.audio_hidden}, aux features {'on' if cfg.aux else 'off'}")
    progress("  folding BatchNorm into the audio encoder conv")
    tensors = conversion.a2m_bundle_tensors(sd, cfg)
    tensors, cfg = conversion.pad_feed_forward(tensors, cfg)
    progress(f"  feed-forward width {cfg.ff_inner} (zero-padded to a multiple of 4 where needed; exact)")
    path = os.path.join(out_dir, "a2m.safetensors")
    progress(f"writing {path} ({sum(t.numel() for t in tensors.values()) / 1e6:.1f} M values)")
    safetensors_io.write(path, tensors, metadata={"format": "avatard", "kind": "ics_a2m"})
    config = cfg.manifest()
    step = obj.get("global_step") if isinstance(obj, dict) else None
    config["source"] = {"checkpoint": os.path.basename(ckpt), "sha256": sha256(ckpt, progress),
                        "global_step": step if isinstance(step, int) else None}
    config["sampler"] = {"method": "midpoint", "steps": 4, "cfg_scale": 1.5, "temperature": 0.3,
                         "upstream_steps": 20, "drop_last_frames_offline": 4}
    return cfg, {"kind": "ics_a2m", "weights": ["a2m.safetensors"], "config": config, "tensors": a2m_shapes(cfg)}


def _latest_checkpoint(directory):
    steps = []
    for name in os.listdir(directory):
        m = re.fullmatch(r"model_ckpt_steps_(\d+)\.ckpt", name)
        if m:
            steps.append((int(m.group(1)), name))
    if not steps:
        raise conversion.LayoutError(f"{directory}: no model_ckpt_steps_*.ckpt")
    return os.path.join(directory, max(steps)[1])


def _keep_person_tensor(path):
    """Restricted-load selection: skip optimizer states and the modules inference never runs."""
    if path and path[0] == "optimizer_states":
        return False
    if len(path) >= 3 and path[:2] == ("state_dict", "model") and str(path[2]).startswith(renderer_conversion.DROPPED_PREFIXES):
        return False
    return True


def person_parts(source, out_dir, progress):
    """Converts a person checkpoint: writes renderer.safetensors; returns (cfg, renderer entry, person_ds identity
    tensors (torch), video_id, checkpoint path)."""
    import yaml
    ckpt = _latest_checkpoint(source) if os.path.isdir(source) else source
    if not os.path.isfile(ckpt):
        raise conversion.LayoutError(f"{ckpt}: file not found (--person/--checkpoint: a person directory or its .ckpt)")
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "config.yaml")
    hp = None
    if os.path.isfile(cfg_path):
        with open(cfg_path) as f:
            try:
                hp = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise conversion.LayoutError(f"{cfg_path}: not valid YAML ({e})")
        if not isinstance(hp, dict):
            raise conversion.LayoutError(f"{cfg_path}: not a mapping of settings")
        progress(f"read {cfg_path}")
    else:
        progress(f"no config.yaml beside {ckpt}: assuming MimicTalk's shipped switches (torso v2, fuse v2)")
    progress(f"loading {ckpt} with the restricted unpickler (optimizer states and Img2Plane skipped)")
    obj = restricted_load.load(ckpt, select=_keep_person_tensor)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) and isinstance(obj["state_dict"].get("model"), dict):
        obj["state_dict"]["model"] = {k: v for k, v in obj["state_dict"]["model"].items() if v is not None}
    sd, tri, person, lora_args = renderer_conversion.person_parts(obj)
    progress(f"  {len(sd)} model tensors; detecting layout from shapes and config")
    cfg, lora = renderer_conversion.detect(sd, tri, hp, lora_args)
    progress(f"  MimicTalk renderer: {cfg.img}² output, NeRF {cfg.nerf_res}² x {cfg.samples_coarse}+{cfg.samples_fine}"
             f", tri-plane {'trigrid_v2' if cfg.trigrid else 'triplane'} D={cfg.depth}, torso input {cfg.torso_in} ch, "
             f"{cfg.kp_num} torso keypoints, fuse {cfg.fuse_mode}, LoRA r={lora['secc'] or lora['sr'] or 0}")
    progress("  merging LoRA, resolving spectral norm, folding BatchNorm and the constant StyleGAN modulation")
    tensors = renderer_conversion.bundle_tensors(sd, tri, cfg, lora)
    ident = renderer_conversion.identity_tensors(person, cfg)
    path = os.path.join(out_dir, "renderer.safetensors")
    progress(f"writing {path} ({sum(t.numel() for t in tensors.values()) / 1e6:.1f} M values)")
    safetensors_io.write(path, tensors, metadata={"format": "avatard", "kind": "mimictalk_renderer",
                                                  "layout": renderer_conversion.LAYOUT})
    config = cfg.manifest()
    config["layout"] = renderer_conversion.LAYOUT
    step = re.search(r"model_ckpt_steps_(\d+)", os.path.basename(ckpt))
    config["source"] = {"checkpoint": os.path.basename(ckpt), "sha256": sha256(ckpt, progress),
                        "global_step": int(step.group(1)) if step else None,
                        "config_yaml": os.path.basename(cfg_path) if hp is not None else None,
                        "lora_args": {k: v for k, v in (lora_args or {}).items() if isinstance(v, (str, int, float))}}
    video_id = person.get("video_id") if isinstance(person.get("video_id"), str) else None
    entry = {"kind": "mimictalk_renderer", "weights": ["renderer.safetensors"], "config": config,
             "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())}}
    return cfg, entry, ident, video_id, ckpt


def _bundle_name(name, video_id, source):
    if name is None:
        base = video_id or os.path.basename(os.path.normpath(source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))))
        name = re.sub(r"[^A-Za-z0-9_-]", "_", base) or "avatar"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"--name '{name}': a bundle name may only use letters, digits, '-' and '_'")
    return name


def _manifest(name, description, size):
    return {"format": "avatard-bundle", "version": 1, "name": name, "description": description,
            "video": {"width": size, "height": size, "fps": FPS}}


def convert_person(source, out_dir, progress, name=None):
    """Complete renderer-only bundle: renderer.safetensors, identity.safetensors (person_ds), manifest."""
    cfg, entry, ident, video_id, ckpt = person_parts(source, out_dir, progress)
    safetensors_io.write(os.path.join(out_dir, "identity.safetensors"), ident,
                         metadata={"format": "avatard", "kind": "mimictalk_person"})
    manifest = _manifest(_bundle_name(name, video_id, source),
                         f"MimicTalk person renderer converted from {os.path.basename(ckpt)}", cfg.img)
    manifest["renderer"] = entry
    manifest["identity"] = {"kind": "mimictalk_person", "weights": ["identity.safetensors"],
                            "config": {"video_id": video_id, "image_range": [-1.0, 1.0]},
                            "tensors": {k: list(v.shape) for k, v in sorted(ident.items())}}
    return manifest


def convert_motion(checkpoint, hubert_dir, out_dir, progress):
    """ICS-A2M + its front-end (HuBERT directory, or log-mel when hubert_dir is None) → (a2m cfg, entries)."""
    a2m_cfg, motion = convert_a2m(checkpoint, out_dir, progress)
    if hubert_dir is not None:
        h_cfg, front = convert_hubert(hubert_dir, out_dir, progress)
        if h_cfg.hidden_size != a2m_cfg.audio_dim:
            raise conversion.LayoutError(
                f"{hubert_dir}: HuBERT hidden size {h_cfg.hidden_size} != the A2M's audio input {a2m_cfg.audio_dim} "
                f"({checkpoint}: hubert_encoder.0.weight shape[1])")
    else:
        mel = LogMelConfig()
        if mel.n_mels != a2m_cfg.audio_dim:
            raise conversion.LayoutError(
                f"log-mel front-end gives {mel.n_mels} rows but hubert_encoder.0.weight expects {a2m_cfg.audio_dim}")
        front = {"kind": "log_mel", "weights": [], "config": mel.manifest()}
    return a2m_cfg, {"audio_frontend": front, "motion_model": motion}


# ------------------------------------------------------------------------------------------------ mimictalk
def _numbers(text, count, switch):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or not all(np.isfinite(values)):
        raise ValueError(f"{switch} '{text}': expected {count} finite comma-separated numbers "
                         "(rx,ry,rz in radians, then tx,ty,tz in the face model's units, see --help)")
    return np.asarray(values, np.float64)


def read_pose(args, progress):
    """→ (config entries, tensors): ref_euler/ref_trans [3] and, with a track, pose_euler/pose_trans [L,3]."""
    if args.pose is not None:
        progress(f"reading pose track {args.pose} (restricted unpickler)")
        euler, trans = pose_track.load_pose_track(args.pose)
        if args.ref_pose is not None:
            ref, ref_source = _numbers(args.ref_pose, 6, "--ref-pose"), "--ref-pose"
        else:
            ref, ref_source = np.concatenate([euler[0], trans[0]]), "pose track frame 0"
        progress(f"  {len(euler)} frames; reference pose from {ref_source}")
        tensors = {"pose_euler": euler, "pose_trans": trans}
        config = {"pose": "track", "pose_track": {"file": os.path.basename(args.pose), "frames": len(euler)}}
    else:
        if args.ref_pose is not None:
            raise ValueError("--ref-pose goes with --pose TRACK.npy; a static pose is given with --pose-static")
        if args.pose_static is not None:
            ref, ref_source = _numbers(args.pose_static, 6, "--pose-static"), "--pose-static"
        else:
            ref, ref_source = np.zeros(6), "frontal default (euler 0, trans 0)"
        progress(f"static pose: {ref_source}")
        tensors, config = {}, {"pose": "static"}
    tensors["ref_euler"], tensors["ref_trans"] = ref[:3], ref[3:]
    config["ref_pose_source"] = ref_source
    return config, {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}


def _style_argument(text):
    m = re.fullmatch(r"([A-Za-z0-9_-]+)=([^,]+),(.+)", text)
    if not m:
        raise ValueError(f"--style '{text}': expected NAME=EXP.npy,AUDIO.wav (NAME of letters, digits, '-', '_')")
    return m.group(1), m.group(2), m.group(3)


def read_style(name, exp_path, wav_path, motion_dim, progress):
    """→ (exp float32 [Tr, motion_dim], audio float32 [N] at 16 kHz); the audio must cover the track: |N − Tr·640|
    ≤ 640 samples (one frame at 25 fps), the condition `avatard bundle verify` checks."""
    obj = pose_track.load_npy(exp_path)
    if isinstance(obj, dict):
        if "exp" not in obj:
            raise ValueError(f"{exp_path}: key 'exp' is missing (the dict has {sorted(map(str, obj))})")
        exp, where = np.asarray(obj["exp"]), f"{exp_path}: key 'exp'"
    elif isinstance(obj, np.ndarray):
        exp, where = obj, exp_path
    else:
        raise ValueError(f"{exp_path}: holds {type(obj).__name__}, expected an expression track [T, {motion_dim}]")
    if exp.dtype.kind not in "iuf" or exp.ndim != 2 or exp.shape[1] != motion_dim or len(exp) == 0:
        raise ValueError(f"{where}: shape {list(exp.shape)} ({exp.dtype}), expected [T, {motion_dim}] "
                         "(BFM expression coefficients per 25 fps frame)")
    if not np.isfinite(exp).all():
        raise ValueError(f"{where}: holds NaN or Inf")
    audio = wav_audio.load_16k_mono(wav_path)
    frames, need = len(exp), len(exp) * SAMPLES_PER_FRAME
    if abs(len(audio) - need) > SAMPLES_PER_FRAME:
        raise ValueError(f"{wav_path}: {len(audio)} samples at 16 kHz ({len(audio) / wav_audio.RATE:.3f} s), but "
                         f"{exp_path} has {frames} frames at {FPS} fps, which needs {need} ± {SAMPLES_PER_FRAME} "
                         f"samples ({frames / FPS:.3f} s ± 40 ms): the clip's audio and expression track must "
                         "have the same length")
    progress(f"  style '{name}': {frames} frames, {len(audio) / wav_audio.RATE:.2f} s of audio")
    return np.ascontiguousarray(exp, np.float32), audio


def convert_mimictalk(args, progress):
    out = args.out
    if not os.path.isdir(args.upstream):
        raise ValueError(f"{args.upstream}: --upstream is not a directory (the MimicTalk checkout)")
    # Cheap inputs first, so a typo is refused before minutes of conversion.
    if args.name is not None:
        _bundle_name(args.name, None, args.person)
    pose_config, pose_tensors = read_pose(args, progress)
    style_args = [_style_argument(s) for s in args.style]
    names = [n for n, _, _ in style_args]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"--style: the name(s) {', '.join(dup)} are given twice")
    if args.default_style is not None and args.default_style not in names:
        raise ValueError(f"--default-style '{args.default_style}' is not among the --style names ({', '.join(names) or 'none'})")
    if args.segmap is not None:
        progress(f"reading segmentation {args.segmap}")
        seg = person_identity.load_segmap(args.segmap)
        seg_source = args.segmap
    else:  # segmented once the reference frame is read; the model file and the package are checked now
        if not os.path.isfile(args.segment_model):
            raise person_identity.IdentityError(f"{args.segment_model}: file not found (--segment-model)")
        person_identity.import_mediapipe()
        seg, seg_source = None, args.segment_model
    styles = {}
    for name, exp_path, wav_path in style_args:
        styles[name] = read_style(name, exp_path, wav_path, face_model.EXP_DIM, progress)
    os.makedirs(out, exist_ok=True)

    progress("face model")
    face = face_model.convert(args.bfm_dir, args.upstream, out, progress, write_component=False)["face_model"]
    progress("motion model")
    a2m_cfg, motion = convert_motion(args.a2m if not os.path.isdir(args.a2m) else _latest_checkpoint(args.a2m),
                                     args.hubert, out, progress)
    if a2m_cfg.motion_dim != face["config"]["exp_dim"]:
        raise conversion.LayoutError(f"{args.a2m}: the A2M predicts {a2m_cfg.motion_dim} motion dims "
                                     f"(to_pred.weight shape[0]), the face model has {face['config']['exp_dim']} "
                                     "expression coefficients")
    progress("renderer")
    cfg, renderer, ident, video_id, ckpt = person_parts(args.person, out, progress)
    tensors = {k: v.numpy().astype(np.float32) for k, v in ident.items()}
    if seg is None:
        progress(f"segmenting the reference frame with MediaPipe and {args.segment_model}")
        seg = person_identity.mediapipe_segmap(tensors["gt_img"], args.segment_model)
    if seg.shape[1:] != (cfg.img, cfg.img):
        raise person_identity.IdentityError(f"{seg_source}: segmentation of {seg.shape[2]}x{seg.shape[1]} px, "
                                            f"expected {cfg.img}x{cfg.img} (the reference frame person_ds.gt_img)")

    progress("identity: torso reference (inpainted) and KNN background from the segmentation")
    tensors.update(person_identity.identity_images(tensors["gt_img"], seg, seg_source))
    tensors.update(pose_tensors)
    path = os.path.join(out, "identity.safetensors")
    progress(f"writing {path}")
    safetensors_io.save_arrays(path, tensors, {"format": "avatard", "kind": "mimictalk_person"})
    identity_config = {
        "video_id": video_id, "image_range": [-1.0, 1.0],
        "segmentation": {"file" if args.segmap is not None else "mediapipe_model": os.path.basename(seg_source),
                         "sha256": sha256(seg_source, progress),
                         "classes": list(person_identity.SEG_CLASSES)},
        "background": "knn", "torso_reference": "inpaint_torso",
        **pose_config,
        "pose_units": {"euler": "radians (x, y, z), R = (Rz·Ry·Rx)^T", "trans": "face-model units (decimetres)"},
        "map_to_init_pose": True, "fix_trans_z": True, "pose_loop": "ping-pong",
        "camera_smoothing_frames": SMOOTHING_FRAMES, "keypoint_smoothing_frames": SMOOTHING_FRAMES,
    }

    manifest = _manifest(_bundle_name(args.name, video_id, args.person),
                         f"MimicTalk avatar converted from {os.path.basename(ckpt)}", cfg.img)
    manifest.update(motion)
    manifest["face_model"] = face
    manifest["renderer"] = renderer
    manifest["identity"] = {"kind": "mimictalk_person", "weights": ["identity.safetensors"], "config": identity_config,
                            "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())}}
    if styles:
        arrays = {}
        for name, (exp, audio) in styles.items():
            arrays[f"{name}.exp"], arrays[f"{name}.audio"] = exp, audio
        path = os.path.join(out, "styles.safetensors")
        progress(f"writing {path}")
        safetensors_io.save_arrays(path, arrays, {"format": "avatard", "kind": "styles", "audio_rate": str(wav_audio.RATE)})
        manifest["styles"] = [{"name": n, "file": "styles.safetensors", "motion_tensor": f"{n}.exp",
                               "audio_tensor": f"{n}.audio"} for n in names]
        manifest["default_style"] = args.default_style or names[0]
    manifest["motion_names"] = [f"bfm_exp_{i}" for i in range(a2m_cfg.motion_dim)]
    return manifest


def dump_json(obj):
    """Indented JSON with short number lists (tensor shapes) kept on one line."""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([-0-9.e,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)


def _write_json(path, obj, progress):
    with open(path, "w") as f:
        f.write(dump_json(obj) + "\n")
    progress(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mimictalk", help="one complete MimicTalk avatar bundle from the user's checkpoints",
                       description="Pickles are read with restricted unpicklers: only tensors/arrays, containers and "
                       "plain values are accepted. See docs/avatars.md, 'From your checkpoints to a bundle'.")
    m.add_argument("--person", required=True, help="MimicTalk person checkpoint: directory with config.yaml + "
                   "model_ckpt_steps_*.ckpt (highest step), or the .ckpt")
    m.add_argument("--a2m", required=True, help="ICS-A2M checkpoint: directory (highest model_ckpt_steps_*.ckpt) or file")
    m.add_argument("--hubert", required=True, help="Hugging Face HuBERT directory (facebook/hubert-large-ls960-ft)")
    m.add_argument("--bfm-dir", required=True, help="upstream's deep_3drecon/BFM (BFM_model_front.mat, or the six "
                   "files it is built from)")
    m.add_argument("--upstream", required=True, help="MimicTalk checkout (deep_3drecon/ncc_code.npy, eye faces)")
    seg = m.add_mutually_exclusive_group(required=True)
    seg.add_argument("--segmap", help="segmentation of the reference frame exported by upstream's "
                     "extract_segment_imgs.py: data/processed/videos/<video_id>/segmaps/00000000.png (class colours), "
                     "or a one-hot [6,S,S] .npy")
    seg.add_argument("--segment-model", help="instead of --segmap: segment the reference frame here as upstream's "
                     "inference does, with MediaPipe (the optional 'mediapipe' package) and this model file "
                     "(upstream's selfie_multiclass_256x256.tflite)")
    pose = m.add_mutually_exclusive_group()
    pose.add_argument("--pose", help="pose track .npy: upstream's 3DMM fit of a video (dict with 'euler', 'trans' "
                      "[L,3]) or a plain [L,6] array; looped ping-pong")
    pose.add_argument("--pose-static", help="static head pose 'rx,ry,rz,tx,ty,tz': upstream's euler (radians, about "
                      "x = pitch, y = yaw, z = roll) then trans (face-model units, decimetres); default frontal 0,…,0")
    m.add_argument("--ref-pose", help="with --pose: the reference frame's pose 'rx,ry,rz,tx,ty,tz' (default: the "
                   "track's frame 0, which is upstream's reference pose when the track is the training video's fit)")
    m.add_argument("--style", action="append", default=[], metavar="NAME=EXP.npy,AUDIO.wav",
                   help="style clip: expression track [T,64] (.npy, plain or upstream's fit dict with 'exp') and its "
                   "audio (any WAV; T·40 ms ± 40 ms long); repeatable")
    m.add_argument("--default-style", help="default style (default: the first --style)")
    m.add_argument("--name", help="bundle name (default: person_ds.video_id)")
    m.add_argument("--out", required=True, help="bundle directory (created if missing)")
    m.add_argument("--quiet", action="store_true")
    a = sub.add_parser("a2m", help="ICS-A2M checkpoint (+ its audio front-end) → complete motion-only bundle",
                       description="Restricted unpickler: only tensors, containers and plain values are accepted.")
    a.add_argument("--checkpoint", required=True, help="official model_ckpt_steps_*.ckpt (legacy pickle)")
    fe = a.add_mutually_exclusive_group(required=True)
    fe.add_argument("--hubert", help="Hugging Face HuBERT directory (config.json + model.safetensors/pytorch_model.bin)")
    fe.add_argument("--frontend", choices=("log_mel",), help="log-mel front-end instead of HuBERT")
    a.add_argument("--out", required=True, help="bundle directory (created if missing)")
    a.add_argument("--name", help="bundle name (default: the checkpoint's directory name)")
    a.add_argument("--quiet", action="store_true")
    h = sub.add_parser("hubert", help="HuBERT front-end weights only (building block of a bundle)")
    h.add_argument("--hubert", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--quiet", action="store_true")
    fm = sub.add_parser("face-model", help="BFM09 front face model from the user's BFM files (building block)")
    fm.add_argument("--bfm-dir", required=True, help="upstream's deep_3drecon/BFM: BFM_model_front.mat, or the files "
                    "it is built from (01_MorphableModel.mat, Exp_Pca.bin, std_exp.txt, BFM_exp_idx.mat, "
                    "BFM_front_idx.mat, facemodel_info.mat)")
    fm.add_argument("--upstream", required=True, help="MimicTalk checkout (deep_3drecon/ncc_code.npy, eye faces)")
    fm.add_argument("--out", required=True)
    fm.add_argument("--quiet", action="store_true")
    p = sub.add_parser("person", help="MimicTalk person checkpoint → complete renderer-only bundle",
                       description="Restricted unpickler: only tensors, containers and plain values are accepted.")
    p.add_argument("--checkpoint", required=True, help="person directory (config.yaml + model_ckpt_steps_*.ckpt) "
                   "or the .ckpt file")
    p.add_argument("--out", required=True, help="bundle directory (created if missing)")
    p.add_argument("--name", help="bundle name (default: person_ds.video_id or the directory name)")
    p.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    progress = Progress(args.quiet)
    try:
        if args.cmd == "face-model":
            face_model.convert(args.bfm_dir, args.upstream, args.out, progress)
            return 0
        if args.cmd == "mimictalk":
            manifest = convert_mimictalk(args, progress)
        else:
            os.makedirs(args.out, exist_ok=True)
            if args.cmd == "person":
                manifest = convert_person(args.checkpoint, args.out, progress, args.name)
            elif args.cmd == "hubert":
                _, entry = convert_hubert(args.hubert, args.out, progress)
                _write_json(os.path.join(args.out, "hubert.component.json"), {"audio_frontend": entry}, progress)
                return 0
            else:
                _, parts = convert_motion(args.checkpoint, args.hubert, args.out, progress)
                name = _bundle_name(args.name, None, args.checkpoint)
                manifest = _manifest(name, f"ICS-A2M motion model converted from {os.path.basename(args.checkpoint)}", 512)
                manifest.update(parts)
    except REFUSED as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 2
    _write_json(os.path.join(args.out, "manifest.json"), manifest, progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
