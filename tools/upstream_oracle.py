#!/usr/bin/python3
"""End-to-end check of the renderer reference against upstream's own code (not part of CI: needs a checkout).

  /usr/bin/python3 -m tools.upstream_oracle --upstream DIR [--work DIR] [--seed 7]

DIR is a checkout of yerfor/MimicTalk (e.g. `git archive a79f90e modules utils | tar -x -C DIR`); nothing from it
is copied into this repository — it is imported from DIR at run time. The script writes a full-size synthetic
person checkpoint of the official layout, builds upstream's own SegFormerSECC2PlaneBackbone, OSGDecoder,
RaySampler, ImportanceRenderer and SuperresolutionHybrid8XDC_Warp with the MimicTalk hparams, loads the
checkpoint into them with strict=True (so the official key layout of renderer_modules.py is checked too), calls
.eval() (ConvLoRA merge), injects the two random draws by patching torch.rand/torch.rand_like, and runs the
per-frame path of OSAvatarSECC_Img2plane_Torso.synthesis (cached learnable tri-plane + SECC planes, 128² NeRF,
SR with ws = 1, noise_mode 'none', threshold 1.0). It compares with the functional reference on the bundle that
tools/convert.py person writes from the same checkpoint.

Upstream's third-party imports that the inference path does not execute are replaced by minimal shims:
torchvision/cv2/imageio/tqdm (imported, unused here), einops.rearrange (training-only paths), timm's DropPath
(identity in eval), to_2tuple and trunc_normal_ (init only), mmcv's ConvModule (conv without bias → BatchNorm →
ReLU, attribute names conv/bn as mmcv names them), Img2PlaneModel (the unused canonical backbone), SyncBatchNorm's
forward (eval-mode batch_norm on the CPU), Tensor.cuda (identity: the grids stay on the CPU), and the mit_b0 ImageNet weights file (replaced by an empty dict; the checkpoint overwrites every weight).
"""
import argparse
import os
import sys
import tempfile
import time
import types

import torch
import torch.nn as nn

from tools import convert
from tools import synth_checkpoint as synth
from tools.reference import safetensors_io
from tools.reference.renderer import Renderer, input_shapes, random_inputs, to_uint8
from tools.reference.renderer_config import RendererConfig


def install_shims():
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    for name in ("torchvision", "cv2", "imageio"):
        module(name)
    module("tqdm", tqdm=lambda x=None, *a, **k: x, trange=lambda *a, **k: range(*a))

    def rearrange(*a, **k):
        raise RuntimeError("einops.rearrange is not on the inference path")
    module("einops", rearrange=rearrange)

    class DropPath(nn.Identity):
        def __init__(self, *a, **k):
            super().__init__()

    module("timm")
    module("timm.models")
    module("timm.models.layers", DropPath=DropPath, to_2tuple=lambda x: x if isinstance(x, tuple) else (x, x),
           trunc_normal_=lambda t, std=1.0: nn.init.trunc_normal_(t, std=std))
    module("timm.models.registry", register_model=lambda f: f)
    module("timm.models.vision_transformer", _cfg=lambda **k: k)

    class ConvModule(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, norm_cfg=None, **k):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)
            self.bn = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)))

    # SyncBatchNorm refuses CPU tensors; in eval mode it is F.batch_norm over the running statistics.
    def sync_bn_eval(self, x):
        assert not self.training
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                                        self.eps)
    nn.SyncBatchNorm.forward = sync_bn_eval
    torch.Tensor.cuda = lambda self, *a, **k: self   # func_utils builds its grids with .cuda(); stay on the CPU

    module("mmcv")
    module("mmcv.cnn", ConvModule=ConvModule)
    module("modules.img2plane.img2plane_model", Img2PlaneModel=None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--work")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--depth", type=int, default=1, help="tri-plane depth; > 1 runs trigrid_v2")
    ap.add_argument("--torso-in", type=int, choices=(3, 5), default=5)
    ap.add_argument("--focal", type=float, default=2985.29 / 700,
                    help="normalised focal length; e.g. 0.9 makes corner rays miss the box (invalid-ray quirk)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = args.work or tempfile.mkdtemp()
    cfg = RendererConfig(depth=args.depth, trigrid=args.depth > 1, torso_in=args.torso_in)
    person = os.path.join(work, "person")
    model, tri, _ = synth.write_person(person, cfg, seed=args.seed)
    assert convert.main(["person", "--checkpoint", person, "--out", os.path.join(work, "bundle"), "--quiet"]) == 0
    tensors = safetensors_io.read(os.path.join(work, "bundle", "renderer.safetensors"))
    sd = model.state_dict()

    install_shims()
    sys.path.insert(0, os.path.abspath(args.upstream))
    from utils.commons.hparams import hparams
    hparams.update({
        "torso_model_version": "v2", "torso_kp_num": 4, "torso_inp_mode": "rgb_alpha" if cfg.torso_in == 5 else "rgb",
        "weight_fuse": True, "htbsr_head_weight_fuse_mode": "v2", "htbsr_head_threshold": 1.0,
        "triplane_feature_type": "trigrid_v2" if cfg.trigrid else "triplane", "triplane_depth": cfg.depth,
        "enable_rescale_plane_regulation": False, "mul_torso_mask": True,
        "torso_mask_dilate_ksize": 7})
    real_load = torch.load
    torch.load = lambda path, *a, **k: {} if "mit_b" in str(path) else real_load(path, *a, **k)
    try:
        from modules.real3d.segformer import SegFormerSECC2PlaneBackbone
        from modules.img2plane.triplane import OSGDecoder
        from modules.real3d.super_resolution.sr_with_ref import SuperresolutionHybrid8XDC_Warp
        from modules.eg3ds.volumetric_rendering.renderer import ImportanceRenderer
        from modules.eg3ds.volumetric_rendering.ray_sampler import RaySampler
        lora = {"lora_mode": "secc2plane_sr", "lora_r": cfg.lora_r}
        secc = SegFormerSECC2PlaneBackbone("b0", out_channels=96 * cfg.depth, pncc_cond_mode="cano_src_tgt", lora_args=lora)
    finally:
        torch.load = real_load
    decoder = OSGDecoder(32, {"decoder_lr_mul": 1, "decoder_output_dim": 32})
    sr = SuperresolutionHybrid8XDC_Warp(channels=32, img_resolution=512, sr_num_fp16_res=0, sr_antialias=True,
                                        lora_args=lora, channel_base=32768, channel_max=512,
                                        fused_modconv_default="inference_only")
    for prefix, m in (("secc_img2plane_backbone.", secc), ("decoder.", decoder), ("superresolution.", sr)):
        part = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        m.load_state_dict(part, strict=True)
        m.eval()
    renderer, sampler = ImportanceRenderer(hp=dict(hparams)), RaySampler()
    opts = {"ray_start": "auto", "ray_end": "auto", "box_warp": 1.0, "depth_resolution": 48,
            "depth_resolution_importance": 48, "disparity_space_sampling": False, "clamp_mode": "softplus",
            "white_back": False}

    inputs = random_inputs(cfg, seed=args.seed + 1, focal=args.focal)
    g = torch.Generator().manual_seed(args.seed + 2)
    sh = input_shapes(cfg)
    rs, ri = torch.rand(sh["rand_stratified"], generator=g), torch.rand(sh["rand_importance"], generator=g)
    real_rand, real_rand_like = torch.rand, torch.rand_like
    used = []

    def rand(*size, **k):
        if tuple(size) == tuple(ri.shape):
            used.append("importance")
            return ri.clone()
        return real_rand(*size, **k)

    def rand_like(t, **k):
        if tuple(t.shape) == tuple(rs.shape):
            used.append("stratified")
            return rs.clone()
        return real_rand_like(t, **k)

    t0 = time.time()
    torch.rand, torch.rand_like = rand, rand_like
    try:
        with torch.no_grad():
            cam = inputs["camera"]
            o, d = sampler(cam[:, :16].view(-1, 4, 4), cam[:, 16:25].view(-1, 3, 3), 128)
            planes = tri + secc(torch.cat([inputs["cond_cano"], inputs["cond_src"], inputs["cond_tgt"]], 1))
            feat, depth, weights, valid = renderer(planes, decoder, o, d, opts)
            print(f"rays missing the box: {int((~valid).sum())} of {valid.numel()}")
            print(f"upstream tri-plane {tuple(planes.shape)}, feature type {renderer.triplane_feature_type}")
            fimg = feat.permute(0, 2, 1).reshape(1, 32, 128, 128).contiguous()
            wimg = weights.permute(0, 2, 1).reshape(1, 1, 128, 128).contiguous()
            dimg = depth.permute(0, 2, 1).reshape(1, 1, 128, 128)
            ws = torch.ones(1, 14, 512)
            img, ret = sr(fimg[:, :3], fimg, ws, inputs["ref_torso_img"], inputs["bg_img"], wimg, inputs["segmap"],
                          inputs["kp_s"], inputs["kp_d"], None, noise_mode="none")
    finally:
        torch.rand, torch.rand_like = real_rand, real_rand_like
    up = {"planes": planes, "feature_image": fimg, "weights_image": wimg, "depth_image": dimg,
          "torso_alpha": ret["occlusion_2"], "sr_image": img, "image": img.clamp(-1, 1)}
    print(f"upstream frame (CPU fp32): {time.time() - t0:.1f} s; draws injected: {sorted(set(used))}")
    with torch.no_grad():
        t0 = time.time()
        ours = Renderer(cfg, tensors).frame(inputs, rs, ri)
        print(f"functional reference frame: {time.time() - t0:.1f} s")
    for k, v in up.items():
        dlt = (ours[k].double() - v.double()).abs()
        print(f"  reference vs upstream {k:14s} max|Δ| {float(dlt.max()):.3e}  mean|Δ| {float(dlt.mean()):.3e}  "
              f"(max|upstream| {float(v.abs().max()):.3f})")
    u_up = ((up["image"][0].permute(1, 2, 0) + 1) / 2 * 255).int().to(torch.uint8)
    u_ours = to_uint8(ours["image"])
    print(f"  uint8 frames differ at {int((u_up != u_ours).sum())} of {u_up.numel()} values")


if __name__ == "__main__":
    main()
