#!/usr/bin/python3
"""Converts official checkpoints into avatard bundle parts (safetensors weights + a manifest fragment).

  /usr/bin/python3 -m tools.convert a2m --checkpoint model_ckpt_steps_N.ckpt --hubert HF_DIR --out BUNDLE_DIR
  /usr/bin/python3 -m tools.convert a2m --checkpoint FILE --frontend log_mel --out BUNDLE_DIR
  /usr/bin/python3 -m tools.convert hubert --hubert HF_DIR --out BUNDLE_DIR
  /usr/bin/python3 -m tools.convert face-model --bfm-dir deep_3drecon/BFM --upstream MIMICTALK_CHECKOUT --out BUNDLE_DIR
  /usr/bin/python3 -m tools.convert person --checkpoint DIR_OR_FILE --out BUNDLE_DIR [--name NAME]

Writes BUNDLE_DIR/a2m.safetensors and BUNDLE_DIR/hubert.safetensors (F32), and
BUNDLE_DIR/motion.manifest-fragment.json: the "audio_frontend" and "motion_model" entries for manifest.json
(the bundle's manifest.json itself is not written or changed).

Safety: checkpoints (the legacy-pickle .ckpt and pytorch_model.bin) are read with a restricted unpickler that
accepts only tensors, storages, containers (dict, list, tuple, OrderedDict, set) and plain values (str, bytes,
numbers, bool, None, numeric numpy scalars). Anything else in the pickle is refused and nothing from the file is
executed. model.safetensors is read as data only.

person: a MimicTalk person checkpoint (a directory with config.yaml and model_ckpt_steps_*.ckpt, the highest step
is taken, or the .ckpt itself with config.yaml beside it) becomes a complete bundle: BUNDLE_DIR/renderer.safetensors
(folded renderer weights + the learnable tri-plane), BUNDLE_DIR/identity.safetensors (person_ds: reference frame,
identity coefficients, source keypoints) and BUNDLE_DIR/manifest.json (roles "renderer" and "identity"; the
"audio_frontend"/"motion_model" entries of a motion.manifest-fragment.json already in BUNDLE_DIR are merged in).
The optimizer states and the unused Img2Plane are never read into memory (the legacy file is memory-mapped).
Layout and folding: docs/renderer.md.

Layout: configuration switches are detected from tensor shapes (aux features from to_cond_emb.weight
[64, 256|352] and pitch_embed, depth from the layer indices, dims/heads/registers from their tensors); unknown
layouts are refused with a message naming the key and its shapes. BatchNorm is folded into the preceding conv and
the HuBERT positional-conv weight norm is folded into a plain weight.

face-model: the BFM09 front model built as upstream's transferBFM09 does (tools/reference/face_model.py), written
as BUNDLE_DIR/face_model.safetensors and BUNDLE_DIR/face_model.manifest-fragment.json (docs/avatars.md).
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time

from tools.reference import conversion, face_model, renderer_conversion, restricted_load, safetensors_io
from tools.reference.a2m import tensor_shapes as a2m_shapes
from tools.reference.hubert import HubertConfig, tensor_shapes as hubert_shapes
from tools.reference.logmel import LogMelConfig

FRAGMENT = "motion.manifest-fragment.json"


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


def convert_person(source, out_dir, progress, name=None):
    import yaml
    ckpt = _latest_checkpoint(source) if os.path.isdir(source) else source
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
    safetensors_io.write(os.path.join(out_dir, "identity.safetensors"), ident,
                         metadata={"format": "avatard", "kind": "mimictalk_person"})
    config = cfg.manifest()
    config["layout"] = renderer_conversion.LAYOUT
    step = re.search(r"model_ckpt_steps_(\d+)", os.path.basename(ckpt))
    config["source"] = {"checkpoint": os.path.basename(ckpt), "sha256": sha256(ckpt, progress),
                        "global_step": int(step.group(1)) if step else None,
                        "config_yaml": os.path.basename(cfg_path) if hp is not None else None,
                        "lora_args": {k: v for k, v in (lora_args or {}).items() if isinstance(v, (str, int, float))}}
    video_id = person.get("video_id") if isinstance(person.get("video_id"), str) else None
    if name is None:
        base = video_id or os.path.basename(os.path.normpath(source if os.path.isdir(source) else os.path.dirname(os.path.abspath(ckpt))))
        name = re.sub(r"[^A-Za-z0-9_-]", "_", base) or "person"
    manifest = {"format": "avatard-bundle", "version": 1, "name": name,
                "description": f"MimicTalk person renderer converted from {os.path.basename(ckpt)}",
                "video": {"width": cfg.img, "height": cfg.img, "fps": 25}}
    frag_path = os.path.join(out_dir, FRAGMENT)
    if os.path.isfile(frag_path):
        with open(frag_path) as f:
            frag = json.load(f)
        for role in ("audio_frontend", "motion_model"):
            if role in frag:
                manifest[role] = frag[role]
        progress(f"  merged {', '.join(r for r in ('audio_frontend', 'motion_model') if r in frag)} from {FRAGMENT}")
    manifest["renderer"] = {"kind": "mimictalk_renderer", "weights": ["renderer.safetensors"], "config": config,
                            "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())}}
    manifest["identity"] = {"kind": "mimictalk_person", "weights": ["identity.safetensors"],
                            "config": {"video_id": video_id, "image_range": [-1.0, 1.0]},
                            "tensors": {k: list(v.shape) for k, v in sorted(ident.items())}}
    return manifest


def dump_json(obj):
    """Indented JSON with short number lists (tensor shapes) kept on one line."""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([-0-9.e,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("a2m", help="ICS-A2M checkpoint (+ its audio front-end)",
                       description="Restricted unpickler: only tensors, containers and plain values are accepted.")
    a.add_argument("--checkpoint", required=True, help="official model_ckpt_steps_*.ckpt (legacy pickle)")
    fe = a.add_mutually_exclusive_group(required=True)
    fe.add_argument("--hubert", help="Hugging Face HuBERT directory (config.json + model.safetensors/pytorch_model.bin)")
    fe.add_argument("--frontend", choices=("log_mel",), help="log-mel front-end instead of HuBERT")
    a.add_argument("--out", required=True, help="bundle directory (created if missing)")
    a.add_argument("--quiet", action="store_true")
    h = sub.add_parser("hubert", help="HuBERT front-end only")
    h.add_argument("--hubert", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--quiet", action="store_true")
    fm = sub.add_parser("face-model", help="BFM09 front face model from the user's BFM files (+ upstream data files)")
    fm.add_argument("--bfm-dir", required=True, help="upstream's deep_3drecon/BFM: BFM_model_front.mat, or the files "
                    "it is built from (01_MorphableModel.mat, Exp_Pca.bin, std_exp.txt, BFM_exp_idx.mat, "
                    "BFM_front_idx.mat, facemodel_info.mat)")
    fm.add_argument("--upstream", required=True, help="MimicTalk checkout (deep_3drecon/ncc_code.npy, eye faces)")
    fm.add_argument("--out", required=True)
    fm.add_argument("--quiet", action="store_true")
    p = sub.add_parser("person", help="MimicTalk person checkpoint → complete renderer bundle",
                       description="Restricted unpickler: only tensors, containers and plain values are accepted.")
    p.add_argument("--checkpoint", required=True, help="person directory (config.yaml + model_ckpt_steps_*.ckpt) "
                   "or the .ckpt file")
    p.add_argument("--out", required=True, help="bundle directory (created if missing)")
    p.add_argument("--name", help="bundle name (default: person_ds.video_id or the directory name)")
    p.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    progress = Progress(args.quiet)
    if args.cmd == "face-model":
        try:
            face_model.convert(args.bfm_dir, args.upstream, args.out, progress)
        except (face_model.FaceModelError, OSError) as e:
            print(f"convert.py: error: {e}", file=sys.stderr)
            return 2
        return 0
    os.makedirs(args.out, exist_ok=True)
    fragment = {}
    if args.cmd == "person":
        try:
            manifest = convert_person(args.checkpoint, args.out, progress, args.name)
        except (conversion.LayoutError, restricted_load.UnsafePickleError, ValueError, KeyError, OSError) as e:
            print(f"convert.py: error: {e}", file=sys.stderr)
            return 2
        path = os.path.join(args.out, "manifest.json")
        with open(path, "w") as f:
            f.write(dump_json(manifest) + "\n")
        progress(f"wrote {path}")
        return 0
    try:
        if args.cmd == "hubert":
            _, fragment["audio_frontend"] = convert_hubert(args.hubert, args.out, progress)
        else:
            a2m_cfg, fragment["motion_model"] = convert_a2m(args.checkpoint, args.out, progress)
            if args.hubert:
                h_cfg, fragment["audio_frontend"] = convert_hubert(args.hubert, args.out, progress)
                if h_cfg.hidden_size != a2m_cfg.audio_dim:
                    raise conversion.LayoutError(
                        f"HuBERT hidden size {h_cfg.hidden_size} != A2M audio input {a2m_cfg.audio_dim} "
                        "(hubert_encoder.0.weight shape[1])")
            else:
                mel = LogMelConfig()
                if mel.n_mels != a2m_cfg.audio_dim:
                    raise conversion.LayoutError(
                        f"log-mel front-end gives {mel.n_mels} rows but hubert_encoder.0.weight expects {a2m_cfg.audio_dim}")
                fragment["audio_frontend"] = {"kind": "log_mel", "weights": [], "config": mel.manifest()}
            fragment = {"audio_frontend": fragment["audio_frontend"], "motion_model": fragment["motion_model"]}
    except (conversion.LayoutError, restricted_load.UnsafePickleError, ValueError, KeyError, OSError) as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 2
    path = os.path.join(args.out, FRAGMENT)
    with open(path, "w") as f:
        f.write(dump_json(fragment) + "\n")
    progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
