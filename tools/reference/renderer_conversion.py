"""MimicTalk person checkpoint → avatard renderer bundle tensors (docs/renderer.md, "Bundle layout").

Detects every size and the §6.4 switches from tensor shapes and config.yaml, refuses anything else with a
LayoutError naming the key, its shape and the config value, then folds in float64: LoRA merged, spectral norm
resolved from the stored u and v, BatchNorm folded into the preceding conv (CNA) or turned into a per-channel
scale/shift (NAC), the constant StyleGAN modulation/demodulation (ws = 1) baked into static conv kernels, the
gains of the StyleGAN FC/Conv2dLayer applied, and what inference never runs dropped.
"""
import math
import re

import torch

from .conversion import LayoutError
from .renderer_config import RendererConfig

LAYOUT = "avatard-mimictalk-renderer-1"   # docs/renderer.md, "Bundle layout"
SECC = "secc_img2plane_backbone."
SR = "superresolution."
TM = SR + "torso_model."
DROPPED_PREFIXES = ("cano_img2plane_backbone.", "plane2grid_module.", SR + "head_torso_alpha_predictor.",
                    "lambda_pertube_blink_secc", "lambda_pertube_secc")
# Run upstream but its output is never used for the image (the Generator ignores `occlusion`).
UNUSED_OUTPUTS = (TM + "motion_field_estimator.occlusion_conv.",)


def _shape(sd, key):
    return list(sd[key].shape) if key in sd else None


def _need(sd, key, ndim=None):
    if key not in sd:
        raise LayoutError(f"missing key '{key}'")
    if not isinstance(sd[key], torch.Tensor):
        raise LayoutError(f"key '{key}' is not a tensor")
    if ndim is not None and sd[key].dim() != ndim:
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)}, expected {ndim} dimensions")
    return list(sd[key].shape)


# ------------------------------------------------------------------------------------------- checkpoint object
def person_parts(obj):
    """(model state dict, learnable_triplane, person_ds dict or None, lora_args dict or None)."""
    if not isinstance(obj, dict) or "state_dict" not in obj:
        raise LayoutError("not a MimicTalk person checkpoint: no 'state_dict' entry "
                          f"(top-level keys: {sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__})")
    sdd = obj["state_dict"]
    if not isinstance(sdd, dict) or "model" not in sdd:
        raise LayoutError(f"checkpoint 'state_dict' has no 'model' entry (keys: {sorted(sdd)[:8]})")
    if "learnable_triplane" not in sdd:
        raise LayoutError("missing key 'state_dict.learnable_triplane' (a MimicTalk person checkpoint carries the "
                          "learnable tri-plane; a base Real3D-Portrait/MimicTalk renderer checkpoint does not)")
    sd, tri = sdd["model"], sdd["learnable_triplane"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise LayoutError("checkpoint 'state_dict.model' is not a mapping of tensors")
    if not isinstance(tri, torch.Tensor):
        raise LayoutError("checkpoint 'state_dict.learnable_triplane' is not a tensor")
    person = obj.get("person_ds")
    lora_args = obj.get("lora_args")
    return dict(sd), tri, person if isinstance(person, dict) else None, lora_args if isinstance(lora_args, dict) else None


# ---------------------------------------------------------------------------------------------------- detection
def _cfg_value(hp, key, default):
    return hp.get(key, default) if hp else default


def _check_switch(hp, key, allowed, default, detail=""):
    v = _cfg_value(hp, key, default)
    if v not in allowed:
        raise LayoutError(f"config.yaml: {key} = {v!r} is not supported (supported: "
                          f"{', '.join(repr(a) for a in allowed)}){detail}")
    return v


def detect(sd, tri, hp=None, lora_args=None):
    """(RendererConfig, lora dict {'secc','sr','decoder': r}) from shapes + config.yaml values; LayoutError else."""
    c = RendererConfig()
    if hp is None:  # no config.yaml: the values MimicTalk's shipped torso configs set (upstream defaults differ)
        hp = {"torso_model_version": "v2", "htbsr_head_weight_fuse_mode": "v2"}
    # Switches only config.yaml knows.
    _check_switch(hp, "phase1_plane_fusion_mode", ("add",), "add")
    _check_switch(hp, "sr_type", ("vanilla",), "vanilla")
    _check_switch(hp, "torso_model_version", ("v2",), "v1", " (the torso model this converter knows is "
                  "WarpBasedTorsoModelMediaPipe of model2.py)")
    if _cfg_value(hp, "large_sr", False):
        raise LayoutError("config.yaml: large_sr = True is not supported")
    if not _cfg_value(hp, "weight_fuse", True):
        raise LayoutError("config.yaml: weight_fuse = False is not supported (only the weight-fused head/torso SR)")
    c.fuse_mode = _check_switch(hp, "htbsr_head_weight_fuse_mode", ("v2",), None,
                                " (v1 fuses without head_torso_block, v3 thresholds a predicted alpha by quantile)")
    if _cfg_value(hp, "mask_invalid_rays", False):
        raise LayoutError("config.yaml: mask_invalid_rays = True is not supported")
    if _cfg_value(hp, "ray_near", "auto") != "auto" or _cfg_value(hp, "ray_far", "auto") != "auto":
        raise LayoutError(f"config.yaml: ray_near/ray_far = {_cfg_value(hp, 'ray_near', 'auto')!r}/"
                          f"{_cfg_value(hp, 'ray_far', 'auto')!r} is not supported (only 'auto' box limits)")
    scale = _cfg_value(hp, "secc_segformer_scale", "b0")
    if scale not in ("b0", "b1", "b2", "b3", "b4", "b5"):
        raise LayoutError(f"config.yaml: secc_segformer_scale = {scale!r} is not supported")
    c.head_threshold = 1.0  # MimicTalk inference sets hparams['htbsr_head_threshold'] = 1.0 whatever the config says
    c.dilate = int(_cfg_value(hp, "torso_mask_dilate_ksize", 7))
    c.mul_torso_mask = bool(_cfg_value(hp, "mul_torso_mask", True))
    c.box_warp = float(_cfg_value(hp, "box_warp", 1.0))
    c.samples_coarse = int(_cfg_value(hp, "num_samples_coarse", 48))
    c.samples_fine = int(_cfg_value(hp, "num_samples_fine", 48))
    if c.samples_fine < 1:
        raise LayoutError(f"config.yaml: num_samples_fine = {c.samples_fine} is not supported (importance "
                          "sampling is always on at inference)")

    # Sizes from shapes.
    c.img = _need(sd, SR + "block1.conv1.noise_const", 2)[0]
    if _cfg_value(hp, "final_resolution", c.img) != c.img:
        raise LayoutError(f"key '{SR}block1.conv1.noise_const' has shape {_shape(sd, SR + 'block1.conv1.noise_const')}"
                          f" but config.yaml final_resolution = {hp['final_resolution']}")
    c.nerf_res = int(_cfg_value(hp, "neural_rendering_resolution", c.img // 4))
    if c.nerf_res != c.img // 4:
        raise LayoutError(f"config.yaml: neural_rendering_resolution = {c.nerf_res} is not supported with "
                          f"final_resolution {c.img} (SuperresolutionHybrid8XDC up-samples exactly 4x)")
    dec_out, c.decoder_hidden = _need(sd, "decoder.net.2.weight", 2)
    c.hid = dec_out - 1
    w0 = _need(sd, "decoder.net.0.weight", 2)
    if w0 != [c.decoder_hidden, c.hid]:
        raise LayoutError(f"key 'decoder.net.0.weight' has shape {w0}, expected {[c.decoder_hidden, c.hid]} "
                          f"(decoder.net.2.weight is {_shape(sd, 'decoder.net.2.weight')})")
    t = list(tri.shape)
    if len(t) != 5 or t[0] != 1 or t[1] != 3 or t[2] % c.hid or t[3] != t[4]:
        raise LayoutError(f"key 'learnable_triplane' has shape {t}, expected [1, 3, {c.hid}*D, P, P]")
    c.depth = t[2] // c.hid
    ftype = _cfg_value(hp, "triplane_feature_type", None)
    has_p2g = any(k.startswith("plane2grid_module.") for k in sd)
    if ftype is None:
        ftype = "trigrid_v2" if has_p2g else "triplane"
    if ftype not in ("triplane", "trigrid", "trigrid_v2"):
        raise LayoutError(f"config.yaml: triplane_feature_type = {ftype!r} is not supported "
                          f"(learnable_triplane {t})")
    c.trigrid = ftype != "triplane"
    cfg_depth = _cfg_value(hp, "triplane_depth", None)
    if cfg_depth is not None and int(cfg_depth) != c.depth:
        raise LayoutError(f"key 'learnable_triplane' has shape {t} (depth {c.depth} at hid {c.hid}) but "
                          f"config.yaml triplane_depth = {cfg_depth}")
    if c.depth != 1 and not c.trigrid:
        raise LayoutError(f"key 'learnable_triplane' has shape {t}: depth {c.depth} needs triplane_feature_type "
                          f"trigrid/trigrid_v2, config.yaml says {ftype!r}")
    if t[3] != c.img // 2:
        raise LayoutError(f"key 'learnable_triplane' has shape {t}, expected planes of {c.img // 2}² "
                          f"for final_resolution {c.img}")

    c.secc_in = _need(sd, SECC + "prenet.weight", 4)[1]
    pncc = _cfg_value(hp, "pncc_cond_mode", None)
    if c.secc_in not in (6, 9) or (pncc is not None and {"cano_src_tgt": 9, "cano_tgt": 6}.get(pncc) != c.secc_in):
        raise LayoutError(f"key '{SECC}prenet.weight' has shape {_shape(sd, SECC + 'prenet.weight')} but "
                          f"config.yaml pncc_cond_mode = {pncc!r} (9 input channels for cano_src_tgt, 6 for cano_tgt)")
    c.mit_dims = tuple(_need(sd, f"{SECC}mix_vit.patch_embed{i}.proj.weight", 4)[0] for i in range(1, 5))
    depths = []
    for i in range(1, 5):
        ids = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(f"{SECC}mix_vit.block{i}.") + r"(\d+)\.", k)] if m})
        if not ids or ids != list(range(len(ids))):
            raise LayoutError(f"mix_vit block{i} layers are not numbered 0..N-1 (found {ids[:10]})")
        depths.append(len(ids))
    c.mit_depths = tuple(depths)
    c.mit_heads = (1, 2, 5, 8)  # every mit_b* variant; not visible in shapes
    for i, d in enumerate(c.mit_dims):
        if d % c.mit_heads[i]:
            raise LayoutError(f"key '{SECC}mix_vit.patch_embed{i + 1}.proj.weight' has {d} channels, not divisible "
                              f"by the {c.mit_heads[i]} heads of mit_{scale}")
    c.mlp_ratio = _need(sd, f"{SECC}mix_vit.block1.0.mlp.fc1.weight", 2)[0] // c.mit_dims[0]
    c.head_dim = _need(sd, SECC + "fuse_head.linear_c1.proj.weight", 2)[0]
    key = SECC + "to_plane_cnn.7.weight"
    out_ch, c.plane_cnn = _need(sd, key, 4)[:2]
    if out_ch != 3 * c.plane_ch:
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)}, expected {3 * c.plane_ch} output channels for "
                          f"learnable_triplane {t}")
    c.w_dim = _need(sd, SR + "block0.conv0.affine.weight", 2)[1]
    c.sr_ch = _need(sd, SR + "block0.conv0.weight", 4)[0]
    c.sr_last = _need(sd, SR + "block1.conv0.weight", 4)[0]
    if _shape(sd, SR + "block0.conv0.weight")[1] != c.hid:
        raise LayoutError(f"key '{SR}block0.conv0.weight' has shape {_shape(sd, SR + 'block0.conv0.weight')}, "
                          f"expected {c.hid} input channels (the NeRF feature image)")
    key = TM + "appearance_extractor.in_conv.layers.0.weight"
    c.torso_in = _need(sd, key, 4)[1]
    mode = _cfg_value(hp, "torso_inp_mode", None)
    if c.torso_in not in (3, 5) or (mode is not None and {"rgb_alpha": 5, "rgb": 3}.get(mode) != c.torso_in):
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)} but config.yaml torso_inp_mode = {mode!r} "
                          "(5 input channels for rgb_alpha, 3 for rgb)")
    a0 = _shape(sd, key)[0]
    downs = _indices(sd, TM + "appearance_extractor.down.")
    c.app_ch = (a0,) + tuple(_need(sd, f"{TM}appearance_extractor.down.{i}.layers.0.layers.0.weight", 4)[0] for i in downs)
    if len(c.app_ch) != 3:
        raise LayoutError(f"appearance_extractor has {len(c.app_ch) - 1} down blocks, expected 2")
    c.app_c = _need(sd, TM + "motion_field_estimator.compress.weight", 5)[1] - 2
    mid = _need(sd, TM + "appearance_extractor.mid_conv.weight", 4)[0]
    if mid % c.app_c:
        raise LayoutError(f"key '{TM}appearance_extractor.mid_conv.weight' has {mid} outputs, not a multiple of "
                          f"the {c.app_c} feature channels")
    c.app_d = mid // c.app_c
    c.app_res = len(_indices(sd, TM + "appearance_extractor.res."))
    key = TM + "motion_field_estimator.down.0.layers.0.layers.0.weight"
    motion_in = _need(sd, key, 5)[1]
    if motion_in % 5 or motion_in // 5 - 1 not in (4, 9):
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)}: (K+1)*5 input channels with K = 4 or 9 "
                          "torso keypoints expected")
    c.kp_num = motion_in // 5 - 1
    kp_cfg = _cfg_value(hp, "torso_kp_num", None)
    if kp_cfg is not None and int(kp_cfg) != c.kp_num:
        raise LayoutError(f"key '{key}' has shape {_shape(sd, key)} ({c.kp_num} keypoints) but config.yaml "
                          f"torso_kp_num = {kp_cfg}")
    c.hg_down = tuple(_need(sd, f"{TM}motion_field_estimator.down.{i}.layers.0.layers.0.weight", 5)[0]
                      for i in _indices(sd, TM + "motion_field_estimator.down."))
    c.hg_up = tuple(_need(sd, f"{TM}motion_field_estimator.up.{i}.layers.1.layers.0.weight", 5)[0]
                    for i in _indices(sd, TM + "motion_field_estimator.up."))
    if not c.hg_up or len(c.hg_up) != len(c.hg_down):
        raise LayoutError(f"motion_field_estimator has {len(c.hg_down)} down and {len(c.hg_up)} up blocks")
    c.head_hid = _need(sd, TM + "motion_field_estimator.tgt_head_fuser.weight", 5)[0]
    c.head_res = len(_indices(sd, TM + "motion_field_estimator.tgt_head_encoder.")) - 1
    gi = _indices(sd, TM + "deform_based_generator.up.")
    c.gen_ch = (_need(sd, TM + "deform_based_generator.mid_conv.weight", 4)[0],) + tuple(
        _need(sd, f"{TM}deform_based_generator.up.{i}.layers.1.layers.0.weight_orig", 4)[0] for i in gi)
    if len(c.gen_ch) != 3:
        raise LayoutError(f"deform_based_generator has {len(c.gen_ch) - 1} up blocks, expected 2")
    c.gen_res = len(_indices(sd, TM + "deform_based_generator.res."))
    c.occ_hid = _need(sd, TM + "occlusion_2_predictor.0.weight", 4)[0]
    c.bg_mid = _need(sd, SR + "bg_encoder.0.weight", 4)[0]
    c.fuse_mid = _need(sd, SR + "fuse_fg_bg_convs.0.weight", 4)[0]
    if c.img % 32 or c.torso_res >> len(c.hg_down) < 1:
        raise LayoutError(f"final_resolution {c.img} does not fit the layout (torso features {c.torso_res}² pooled "
                          f"{len(c.hg_down)} times)")

    lora = {"secc": _lora_rank(sd, SECC + "to_plane_cnn.0.", 3) or _lora_rank(sd, SECC + "prenet.", 1),
            "sr": _lora_rank(sd, SR + "block0.conv1.", 3), "decoder": _lora_rank(sd, "decoder.net.0.", 0)}
    if lora_args and lora_args.get("lora_r") is not None:
        for part, r in lora.items():
            if r and r != lora_args["lora_r"]:
                raise LayoutError(f"LoRA rank {r} from the {part} lora_A shapes but lora_args lora_r = "
                                  f"{lora_args['lora_r']}")
    _check_keys(sd, c, lora)
    _check_filters(sd)
    return c, lora


def _check_filters(sd):
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    want = torch.outer(f, f) / 64
    for k, v in sd.items():
        if k.endswith("resample_filter") and (list(v.shape) != [4, 4] or (v.float() - want).abs().max() > 1e-6):
            raise LayoutError(f"key '{k}' (shape {list(v.shape)}) is not the [1,3,3,1] up-sampling filter the "
                              "bundle layout assumes")


def _indices(sd, prefix):
    ids = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(prefix) + r"(\d+)\.", k)] if m})
    if ids != list(range(len(ids))):
        raise LayoutError(f"'{prefix}N' blocks are not numbered 0..N-1 (found {ids[:10]})")
    return ids


def _lora_rank(sd, prefix, k):
    key = prefix + "lora_A"
    if key not in sd:
        return 0
    rows = _need(sd, key, 2)[0]
    return rows // k if k else rows


def official_shapes(c, lora):
    """Official key → shape for a configuration, from the module tree (what the detector accepts, nothing more)."""
    from .renderer_modules import OfficialRenderer
    torch.manual_seed(0)
    m = OfficialRenderer(c, lora_secc=lora["secc"], lora_sr=lora["sr"], lora_decoder=lora["decoder"])
    return {k: list(v.shape) for k, v in m.state_dict().items() if not k.startswith(DROPPED_PREFIXES)}


def _check_keys(sd, c, lora):
    expected = official_shapes(c, lora)
    for key, shape in expected.items():
        if key not in sd:
            raise LayoutError(f"missing key '{key}' (expected shape {shape} for the detected layout)")
        if list(sd[key].shape) != shape:
            raise LayoutError(f"key '{key}' has shape {list(sd[key].shape)}, expected {shape} for the detected "
                              f"layout (final_resolution {c.img}, hid {c.hid}, depth {c.depth}, torso input "
                              f"{c.torso_in} ch, {c.kp_num} keypoints)")
    unknown = sorted(k for k in sd if k not in expected and not k.startswith(DROPPED_PREFIXES))
    if unknown:
        raise LayoutError(f"unknown key '{unknown[0]}' with shape {_shape(sd, unknown[0])}"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))


# ------------------------------------------------------------------------------------------------------ folding
def _d(t):
    return t.detach().double()


def lora_delta(sd, prefix, shape):
    """B@A/r viewed as `shape` (ConvLoRA, Conv2dLayer, SynthesisLayer, ToRGB and FC all use lora_alpha = 1)."""
    if prefix + "lora_A" not in sd:
        return 0.0
    a, b = _d(sd[prefix + "lora_A"]), _d(sd[prefix + "lora_B"])
    k = shape[-1] if len(shape) == 4 else 1
    r = a.shape[0] // k
    return (b @ a).view(*shape) / r


def spectral(sd, prefix):
    """weight_orig / (u · (W v)) — torch's spectral norm in eval mode, no power iteration."""
    w = _d(sd[prefix + "weight_orig"])
    u, v = _d(sd[prefix + "weight_u"]), _d(sd[prefix + "weight_v"])
    sigma = torch.dot(u, w.reshape(w.shape[0], -1) @ v)
    if not torch.isfinite(sigma) or abs(float(sigma)) < 1e-12:
        raise LayoutError(f"key '{prefix}weight_u'/'weight_v' give spectral norm {float(sigma)}")
    return w / sigma


def bn_scale_shift(sd, prefix, eps):
    var = _d(sd[prefix + "running_var"])
    if (var < 0).any():
        raise LayoutError(f"key '{prefix}running_var' has negative entries")
    s = _d(sd[prefix + "weight"]) / torch.sqrt(var + eps)
    return s, _d(sd[prefix + "bias"]) - _d(sd[prefix + "running_mean"]) * s


def _fold(w, b, s, t):
    shape = (-1,) + (1,) * (w.dim() - 1)
    return w * s.view(shape), (b if b is not None else 0.0) * s + t


def fc_weight(sd, prefix):
    w = _d(sd[prefix + "weight"])
    return w / math.sqrt(w.shape[1]) + lora_delta(sd, prefix, list(w.shape)), _d(sd[prefix + "bias"])


def style_conv(sd, prefix, demodulate, up):
    """Static kernel of a SynthesisLayer (demodulate) or ToRGB (no demodulation) with ws = 1 (§8.2)."""
    w = _d(sd[prefix + "weight"]) + lora_delta(sd, prefix, list(sd[prefix + "weight"].shape))
    aw, ab = fc_weight(sd, prefix + "affine.")
    s = aw.sum(dim=1) + ab                                     # affine(ones)
    if not demodulate:
        s = s / math.sqrt(w.shape[1] * w.shape[2] * w.shape[3])
    w = w * s.view(1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[1, 2, 3]) + 1e-8).rsqrt().view(-1, 1, 1, 1)
    if up:  # conv_transpose2d(x, Wᵀ, stride 2) = zero-insert, pad k-1, correlate with the flipped kernel
        w = w.flip([2, 3])
    return w


def bundle_tensors(sd, tri, c, lora):
    """Bundle name → float32 tensor (names and layouts: docs/renderer.md, "Bundle layout")."""
    out = {}
    eps = c.bn_eps

    def put(name, t):  # folded in float64, stored float32 at once (keeps peak memory near one model copy)
        if not torch.isfinite(t).all():
            raise LayoutError(f"bundle tensor '{name}' is not finite after folding (check its source keys)")
        out[name] = t.to(torch.float32).contiguous()

    def conv(src, dst=None):
        dst = dst or src
        put(dst + "weight", _d(sd[src + "weight"]))
        put(dst + "bias", _d(sd[src + "bias"]))

    def cna(src, dst=None, sn=False):                # conv (layers.0) then BN (layers.1) → one conv
        dst = dst or src
        w = spectral(sd, src + "layers.0.") if sn else _d(sd[src + "layers.0.weight"])
        s, t = bn_scale_shift(sd, src + "layers.1.", eps)
        w, b = _fold(w, _d(sd[src + "layers.0.bias"]), s, t)
        put(dst + "weight", w)
        put(dst + "bias", b)

    def nac(src, sn=False):                          # BN (layers.0) → ReLU → conv (layers.2)
        s, t = bn_scale_shift(sd, src + "layers.0.", eps)
        put(src + "scale", s)
        put(src + "shift", t)
        put(src + "weight", spectral(sd, src + "layers.2.") if sn else _d(sd[src + "layers.2.weight"]))
        put(src + "bias", _d(sd[src + "layers.2.bias"]))

    def res(prefix, n, sn=False):
        for i in range(n):
            for j in (0, 1):
                nac(f"{prefix}{i}.layers.{j}.", sn)

    # SECC2Plane
    w = _d(sd[SECC + "prenet.weight"])
    put(SECC + "prenet.weight", w / math.sqrt(w[0].numel()) + lora_delta(sd, SECC + "prenet.", list(w.shape)))
    put(SECC + "prenet.bias", _d(sd[SECC + "prenet.bias"]))
    for k, v in sd.items():
        if k.startswith(SECC + "mix_vit.") or k.startswith(SECC + "fuse_head.linear_c"):
            put(k, _d(v))
    s, t = bn_scale_shift(sd, SECC + "fuse_head.linear_fuse.bn.", eps)
    w, b = _fold(_d(sd[SECC + "fuse_head.linear_fuse.conv.weight"]), None, s, t)
    put(SECC + "fuse_head.linear_fuse.weight", w)
    put(SECC + "fuse_head.linear_fuse.bias", b)
    for i in (0, 2, 4, 7):
        p = f"{SECC}to_plane_cnn.{i}."
        key = p + "conv.weight" if p + "conv.weight" in sd else p + "weight"
        w = _d(sd[key])
        put(p + "weight", w + lora_delta(sd, p, list(w.shape)))
        put(p + "bias", _d(sd[p + "conv.bias" if p + "conv.bias" in sd else p + "bias"]))
    # The learnable tri-plane in the to_plane_cnn output orientation: the §5.2 flips undone here, so a port adds
    # the raw network output and mirrors the sampling coordinates instead of flipping every frame.
    t3 = _d(tri[0])
    put("learnable_triplane", torch.stack([t3[0].flip([1]), t3[1].flip([1]), t3[2].flip([1, 2])]))
    # Decoder
    for i in (0, 2):
        w, b = fc_weight(sd, f"decoder.net.{i}.")
        put(f"decoder.net.{i}.weight", w)
        put(f"decoder.net.{i}.bias", b)
    # StyleGAN blocks
    for blk in ("block0", "head_torso_block", "block1"):
        p = SR + blk + "."
        up = blk != "head_torso_block"
        put(p + "conv0.weight", style_conv(sd, p + "conv0.", True, up))
        put(p + "conv0.bias", _d(sd[p + "conv0.bias"]))
        put(p + "conv1.weight", style_conv(sd, p + "conv1.", True, False))
        put(p + "conv1.bias", _d(sd[p + "conv1.bias"]))
        put(p + "torgb.weight", style_conv(sd, p + "torgb.", False, False))
        put(p + "torgb.bias", _d(sd[p + "torgb.bias"]))
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    put(SR + "fir", torch.outer(f, f) / 64.0 * 4.0)
    for name in ("torso_encoder.0.", "bg_encoder.0.", "bg_encoder.2.", "bg_encoder.4.", "fuse_head_torso_convs.0.",
                 "fuse_head_torso_convs.2.", "fuse_fg_bg_convs.0.", "fuse_fg_bg_convs.2.", "fuse_fg_bg_convs.4."):
        conv(SR + name)
    # Torso model
    ae, me, ge = TM + "appearance_extractor.", TM + "motion_field_estimator.", TM + "deform_based_generator."
    cna(ae + "in_conv.")
    for i in range(len(c.app_ch) - 1):
        cna(f"{ae}down.{i}.layers.0.")
    conv(ae + "mid_conv.")
    res(ae + "res.", c.app_res)
    conv(me + "compress.")
    for i in range(len(c.hg_down)):
        cna(f"{me}down.{i}.layers.0.")
        cna(f"{me}up.{i}.layers.1.")
    cna(me + "tgt_head_encoder.0.")
    for i in range(1, c.head_res + 1):
        for j in (0, 1):
            nac(f"{me}tgt_head_encoder.{i}.layers.{j}.")
    for name in ("tgt_head_fuser.", "mask_conv.", "occlusion_conv2."):
        conv(me + name)
    cna(ge + "in_conv.", sn=True)
    conv(ge + "mid_conv.")
    res(ge + "res.", c.gen_res, sn=True)
    for i in range(len(c.gen_ch) - 1):
        cna(f"{ge}up.{i}.layers.1.", sn=True)
    conv(ge + "out_conv.")
    for i in (0, 2, 4):
        conv(f"{TM}occlusion_2_predictor.{i}.")
    return out


def identity_tensors(person, c):
    """person_ds → identity tensors (reference frame, identity coefficients, source keypoints)."""
    if person is None:
        raise LayoutError("missing 'person_ds' (reference image, identity coefficients and source keypoints)")
    out = {}
    for key, shape in (("gt_img", [1, 3, c.img, c.img]), ("id", [1, 80]), ("src_kp", [68, 3])):
        v = person.get(key)
        if not isinstance(v, torch.Tensor):
            raise LayoutError(f"missing key 'person_ds.{key}' (expected a tensor of shape {shape})")
        if list(v.shape) != shape:
            raise LayoutError(f"key 'person_ds.{key}' has shape {list(v.shape)}, expected {shape}")
        out[key] = v.detach().to(torch.float32).contiguous()
    return out
