#!/usr/bin/python3
"""One MimicTalk renderer frame from the PyTorch reference — what Swift parity tests compare against.

  /usr/bin/python3 -m tools.reference.renderer_frame (--bundle DIR | --checkpoint DIR_OR_FILE) --inputs DIR
        --out FILE.npy [--dump DIR] [--float64] [--seed N] [--module-tree]

--inputs DIR holds little-endian float32 C-order .npy files (issue 9, scope item 4):
  cond_cano.npy, cond_src.npy, cond_tgt.npy [1,3,S,S] (SECC maps in [-1,1]); ref_torso_img.npy, bg_img.npy
  [1,3,S,S] (in [-1,1]); segmap.npy [1,6,S,S]; kp_s.npy, kp_d.npy [1,68,3]; camera.npy [1,25];
  optional rand_stratified.npy [1,R²,Nc,1] and rand_importance.npy [R²,Nf] (uniform draws, ray m = row·R + col).
S = final resolution (512), R = NeRF resolution (128), Nc/Nf = coarse/fine samples (48/48). kp_s.npy may be left
out when the bundle's identity carries src_kp (then kp_s = src_kp with z = 0, as MimicTalk inference feeds it).
Missing draws are drawn here from torch.rand with --seed (and written to --dump).

--out gets the final image [1,3,S,S] in [-1,1] after the clamp (float32). --dump DIR writes float32 .npy files:
planes [1,3,C,P,P] (after the learnable tri-plane fusion, upstream orientation), feature_image [1,hid,R,R],
weights_image [1,1,R,R], depth_image [1,1,R,R], rgb_torso [1,3,S/2,S/2], torso_alpha [1,1,S/2,S/2]
(occlusion_2), person_alpha [1,1,S/2,S/2], sr_image [1,3,S,S] (before the clamp), image [1,3,S,S],
rand_stratified, rand_importance, and image_uint8 [S,S,3] (uint8, upstream's truncating conversion).
--checkpoint converts in memory (same code as tools/convert.py person); --module-tree runs the official-key module
tree on the unfolded checkpoint instead of the functional reference (checkpoint only).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from tools.reference import renderer_conversion, restricted_load, safetensors_io
from tools.reference.conversion import LayoutError
from tools.reference.renderer import Renderer, input_shapes, to_uint8
from tools.reference.renderer_config import RendererConfig

DUMP = ("planes", "feature_image", "weights_image", "depth_image", "rgb_torso", "torso_alpha", "person_alpha",
        "sr_image", "image", "rand_stratified", "rand_importance")


class InputError(ValueError):
    pass


def read_npy(path, shape):
    name = os.path.basename(path)
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise InputError(f"{name}: not a readable .npy file ({e})")
    if a.dtype != np.dtype("<f4"):
        raise InputError(f"{name}: dtype {a.dtype.str} ({a.dtype}), expected little-endian float32 '<f4'")
    if not a.flags["C_CONTIGUOUS"]:
        raise InputError(f"{name}: Fortran-ordered array, expected C order")
    if list(a.shape) != list(shape):
        raise InputError(f"{name}: shape {list(a.shape)}, expected {list(shape)}")
    if not np.isfinite(a).all():
        raise InputError(f"{name}: contains NaN or Inf")
    return torch.from_numpy(a.copy())


def write_inputs(directory, tensors):
    """Writes {name: tensor} as little-endian float32 C-order .npy files (the --inputs layout)."""
    os.makedirs(directory, exist_ok=True)
    for name, t in tensors.items():
        np.save(os.path.join(directory, name + ".npy"), np.ascontiguousarray(t.detach().float().numpy().astype("<f4")))


def read_inputs(directory, cfg, identity=None):
    shapes = input_shapes(cfg)
    known = set(shapes)
    for f in sorted(os.listdir(directory)):
        if f.endswith(".npy") and f[:-4] not in known:
            raise InputError(f"{f}: unknown input name (expected {', '.join(sorted(known))})")
    inputs, draws = {}, {}
    for name, shape in shapes.items():
        path = os.path.join(directory, name + ".npy")
        if not os.path.isfile(path):
            if name in ("rand_stratified", "rand_importance") or (name == "cond_src" and cfg.secc_in == 6):
                continue
            if name == "kp_s" and identity is not None and "src_kp" in identity:
                kp = identity["src_kp"].clone()
                kp[:, 2] = 0
                inputs[name] = kp[None]
                continue
            raise InputError(f"{name}.npy: missing from {directory} (expected shape {shape})")
        (draws if name.startswith("rand_") else inputs)[name] = read_npy(path, shape)
    return inputs, draws


def load_bundle(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    comp = manifest.get("renderer")
    if not comp or comp.get("kind") != "mimictalk_renderer":
        raise LayoutError(f"{directory}/manifest.json: no renderer of kind 'mimictalk_renderer'")
    if comp.get("config", {}).get("layout") != renderer_conversion.LAYOUT:
        raise LayoutError(f"{directory}/manifest.json: renderer layout {comp.get('config', {}).get('layout')!r} is not "
                          f"{renderer_conversion.LAYOUT!r}")
    cfg = RendererConfig.from_manifest(comp["config"])
    tensors = {}
    for w in comp["weights"]:
        tensors.update(safetensors_io.read(os.path.join(directory, w)))
    for name, shape in comp.get("tensors", {}).items():
        if name not in tensors or list(tensors[name].shape) != shape:
            raise LayoutError(f"renderer tensor '{name}': expected {shape}, found "
                              f"{list(tensors[name].shape) if name in tensors else 'nothing'}")
    identity = None
    if manifest.get("identity"):
        identity = {}
        for w in manifest["identity"]["weights"]:
            identity.update(safetensors_io.read(os.path.join(directory, w)))
    return cfg, tensors, identity


def load_checkpoint(source):
    """(cfg, bundle tensors, identity, (sd, triplane, lora)) converted in memory like convert.py person."""
    from tools import convert
    ckpt = convert._latest_checkpoint(source) if os.path.isdir(source) else source
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "config.yaml")
    hp = None
    if os.path.isfile(cfg_path):
        import yaml
        with open(cfg_path) as f:
            hp = yaml.safe_load(f)
    obj = restricted_load.load(ckpt, select=convert._keep_person_tensor)
    obj["state_dict"]["model"] = {k: v for k, v in obj["state_dict"]["model"].items() if v is not None}
    sd, tri, person, lora_args = renderer_conversion.person_parts(obj)
    cfg, lora = renderer_conversion.detect(sd, tri, hp, lora_args)
    return cfg, renderer_conversion.bundle_tensors(sd, tri, cfg, lora), \
        renderer_conversion.identity_tensors(person, cfg), (sd, tri, lora)


def run(args):
    if args.bundle:
        cfg, tensors, identity = load_bundle(args.bundle)
        official = None
    else:
        cfg, tensors, identity, official = load_checkpoint(args.checkpoint)
    inputs, draws = read_inputs(args.inputs, cfg, identity)
    dtype = torch.float64 if args.float64 else torch.float32
    g = torch.Generator().manual_seed(args.seed)
    shapes = input_shapes(cfg)
    rs = draws.get("rand_stratified")
    ri = draws.get("rand_importance")
    rs = torch.rand(shapes["rand_stratified"], generator=g) if rs is None else rs
    ri = torch.rand(shapes["rand_importance"], generator=g) if ri is None else ri
    t0 = time.time()
    with torch.no_grad():
        if args.module_tree:
            if official is None:
                raise LayoutError("--module-tree needs --checkpoint (the bundle is already folded)")
            from tools.reference.renderer_modules import OfficialRenderer
            sd, tri, lora = official
            model = OfficialRenderer(cfg, lora_secc=lora["secc"], lora_sr=lora["sr"], lora_decoder=lora["decoder"])
            model.load_state_dict({k: v for k, v in sd.items()}, strict=False)
            model = model.eval().to(dtype)
            out = model(tri.to(dtype), {k: v.to(dtype) for k, v in inputs.items()}, rs.to(dtype), ri.to(dtype))
            out.update(rand_stratified=rs, rand_importance=ri)
        else:
            out = Renderer(cfg, tensors, dtype).frame(inputs, rs, ri)
    elapsed = time.time() - t0
    image = out["image"].float()
    if not torch.isfinite(image).all():
        raise LayoutError("the frame contains NaN/Inf")
    np.save(args.out, image.numpy().astype("<f4"))
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        for k in DUMP:
            if k in out:
                np.save(os.path.join(args.dump, k + ".npy"), out[k].detach().float().numpy().astype("<f4"))
        np.save(os.path.join(args.dump, "image_uint8.npy"), to_uint8(out["image"].float()).numpy())
    return elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle", help="bundle directory written by tools/convert.py person")
    src.add_argument("--checkpoint", help="MimicTalk person checkpoint directory or .ckpt (converted in memory)")
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dump")
    ap.add_argument("--float64", action="store_true", help="run in float64 (the noise-floor reference)")
    ap.add_argument("--seed", type=int, default=0, help="seed for draws not given in --inputs")
    ap.add_argument("--module-tree", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        elapsed = run(args)
    except (InputError, LayoutError, restricted_load.UnsafePickleError, OSError, KeyError) as e:
        print(f"renderer_frame.py: error: {e}", file=sys.stderr)
        return 2
    print(f"renderer_frame.py: wrote {args.out} ({elapsed:.2f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
