"""Configuration of the MimicTalk renderer (OSAvatarSECC_Img2plane_Torso as MimicTalk inference runs it).

Defaults are the official sizes (spec §5.0); RendererConfig.small() is a scaled-down variant with the same structure
for fast tests. Upstream hard-codes several sizes as absolute numbers (256, 128, 64); here they are derived from
`img` with the official ratios: planes and SR trunk at img/2, head encoder at img/4, torso features at img/8.
"""
from dataclasses import dataclass, asdict
from typing import Tuple


@dataclass
class RendererConfig:
    img: int = 512                       # final_resolution
    nerf_res: int = 128                  # neural_rendering_resolution
    hid: int = 32                        # triplane_hid_dim (= decoder_output_dim = SR input channels)
    depth: int = 1                       # triplane_depth D (planes carry hid*D channels)
    trigrid: bool = False                # triplane_feature_type trigrid_v2 (5-D sampling) instead of triplane
    secc_in: int = 9                     # 9 for pncc_cond_mode cano_src_tgt, 6 for cano_tgt
    mit_dims: Tuple[int, ...] = (32, 64, 160, 256)
    mit_heads: Tuple[int, ...] = (1, 2, 5, 8)
    mit_depths: Tuple[int, ...] = (2, 2, 2, 2)
    mit_sr: Tuple[int, ...] = (8, 4, 2, 1)
    mlp_ratio: int = 4
    head_dim: int = 256                  # SegFormer head embedding
    plane_cnn: int = 256                 # to_plane_cnn width
    decoder_hidden: int = 64
    samples_coarse: int = 48
    samples_fine: int = 48
    box_warp: float = 1.0
    w_dim: int = 512
    sr_ch: int = 256                     # block0 / fuse / head_torso_block width
    sr_last: int = 128                   # block1 width
    torso_in: int = 5                    # 5 = rgb_alpha, 3 = rgb
    app_ch: Tuple[int, ...] = (64, 128, 256)
    app_c: int = 32                      # appearance feature channels C
    app_d: int = 16                      # appearance feature depth D
    app_res: int = 6
    kp_num: int = 4
    hg_down: Tuple[int, ...] = (64, 128, 256, 512, 1024)
    hg_up: Tuple[int, ...] = (512, 256, 128, 64, 32)
    head_hid: int = 32
    head_res: int = 3
    gen_ch: Tuple[int, ...] = (256, 128, 64)
    gen_res: int = 6
    occ_hid: int = 32
    bg_mid: int = 64
    fuse_mid: int = 64
    dilate: int = 7                      # torso_mask_dilate_ksize
    mul_torso_mask: bool = True
    head_threshold: float = 1.0          # htbsr_head_threshold (MimicTalk inference overrides 0.9 with 1.0)
    fuse_mode: str = "v2"                # htbsr_head_weight_fuse_mode
    lora_r: int = 2                      # only for synthetic checkpoints (the bundle is merged)
    kp_variance: float = 0.01
    bn_eps: float = 1e-5

    @staticmethod
    def small(**kw):
        c = RendererConfig(img=64, nerf_res=16, hid=8, mit_dims=(8, 16, 40, 64),
                           head_dim=16, plane_cnn=16, decoder_hidden=16, samples_coarse=12, samples_fine=12,
                           w_dim=8, sr_ch=16, sr_last=8, app_ch=(8, 8, 16), app_c=4, app_d=4, app_res=2,
                           hg_down=(8, 16), hg_up=(8, 4), head_hid=4, head_res=1, gen_ch=(16, 8, 8), gen_res=2,
                           occ_hid=8, bg_mid=8, fuse_mid=8)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    # Derived sizes.
    @property
    def plane_res(self):
        return self.img // 2

    @property
    def sr_res(self):
        return self.img // 2

    @property
    def head_res_px(self):
        return self.img // 4

    @property
    def torso_res(self):
        return self.img // 8

    @property
    def plane_ch(self):
        return self.hid * self.depth

    @property
    def motion_in(self):
        return (self.kp_num + 1) * 5

    @property
    def fuser_in(self):
        return self.head_hid + self.motion_in + self.hg_up[-1]

    @property
    def kp_index(self):
        return {4: [0, 8, 16, 27], 9: [0, 3, 6, 8, 10, 13, 16, 27, 33]}[self.kp_num]

    def manifest(self):
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, tuple):
                d[k] = list(v)
        d.pop("lora_r")
        d["triplane_feature_type"] = "trigrid_v2" if self.trigrid else "triplane"
        return d

    @staticmethod
    def from_manifest(d):
        keys = RendererConfig.__dataclass_fields__.keys()
        c = RendererConfig()
        for k in keys:
            if k in d:
                v = d[k]
                setattr(c, k, tuple(v) if isinstance(v, list) else v)
        return c
