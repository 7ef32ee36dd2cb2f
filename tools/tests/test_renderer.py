"""MimicTalk renderer reference: the functional code over folded bundle tensors (renderer.py) against the
official-key module tree on the unfolded parameters (renderer_modules.py), module by module and per frame, on
small configurations; float32 vs float64; the upstream quirks that the spec marks."""
import unittest

import torch
import torch.nn.functional as F

from tools.tests._common import rel_max
from tools import synth_checkpoint as synth
from tools.reference import renderer_conversion as rc
from tools.reference.renderer import Renderer, chunked_conv, input_shapes, random_inputs, to_uint8, up_conv_zero_insert
from tools.reference.renderer_config import RendererConfig
from tools.reference.renderer_modules import upfirdn, fir_filter

SR = "superresolution."


def build(cfg, seed):
    model = synth.make_person(cfg, seed)
    g = torch.Generator().manual_seed(seed + 100)
    tri = synth._unit([1, 3, cfg.plane_ch, cfg.plane_res, cfg.plane_res], g)
    hp = {"torso_model_version": "v2", "htbsr_head_weight_fuse_mode": "v2", "num_samples_coarse": cfg.samples_coarse,
          "num_samples_fine": cfg.samples_fine, "triplane_feature_type": "trigrid_v2" if cfg.trigrid else "triplane",
          "torso_inp_mode": "rgb_alpha" if cfg.torso_in == 5 else "rgb"}
    detected, lora = rc.detect(model.state_dict(), tri, hp, {"lora_r": cfg.lora_r})
    return model, tri, detected, rc.bundle_tensors(model.state_dict(), tri, detected, lora)


def draws(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    sh = input_shapes(cfg)
    return torch.rand(sh["rand_stratified"], generator=g), torch.rand(sh["rand_importance"], generator=g)


class RendererParityTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg = RendererConfig.small()
        cls.model, cls.tri, cls.detected, cls.tensors = build(cls.cfg, 5)
        cls.r = Renderer(cls.cfg, cls.tensors)
        cls.inputs = random_inputs(cls.cfg, seed=6)
        cls.rs, cls.ri = draws(cls.cfg, 7)
        with torch.no_grad():
            cls.ref = cls.model(cls.tri, cls.inputs, cls.rs, cls.ri)
            cls.got = cls.r.frame(cls.inputs, cls.rs, cls.ri)

    def test_detection_recovers_the_configuration(self):
        self.assertEqual(self.detected, self.cfg)

    def test_motion_adapter(self):
        secc = torch.cat([self.inputs[n] for n in ("cond_cano", "cond_src", "cond_tgt")], 1)
        with torch.no_grad():
            want = self.model.secc_img2plane_backbone(secc)
            raw = self.r.secc_planes_raw(secc)
        got = torch.stack([raw[0].flip([1]), raw[1].flip([1]), raw[2].flip([1, 2])])[None]
        self.assertLess(rel_max(got, want), 2e-6)
        self.assertLess(rel_max(self.got["planes"], self.ref["planes"]), 2e-6)

    def test_decoder_and_marcher(self):
        for k in ("feature_image", "weights_image", "depth_image"):
            self.assertLess(rel_max(self.got[k], self.ref[k]), 5e-6, k)
        w = self.got["weights_image"]
        self.assertTrue(0.05 < float(w.mean()) < 0.95, "the synthetic head is neither empty nor opaque")

    def test_sr_blocks(self):
        g = torch.Generator().manual_seed(8)
        ws = torch.ones(1, 1, self.cfg.w_dim)
        cases = (("block0", self.cfg.hid, 16, True), ("head_torso_block", self.cfg.sr_ch, 32, False),
                 ("block1", self.cfg.sr_ch, 32, True))
        for name, cin, size, up in cases:
            x = torch.randn(1, cin, size, size, generator=g)
            img = torch.randn(1, 3, size, size, generator=g)
            with torch.no_grad():
                wx, wimg = getattr(self.model.superresolution, name)(x, img, ws)
                gx, gimg = self.r.style_block(x, img, SR + name + ".", up)
            self.assertLess(rel_max(gx, wx), 2e-6, name)
            self.assertLess(rel_max(gimg, wimg), 2e-6, name)

    def test_stored_up_kernel_is_a_correlation_over_the_zero_inserted_input(self):
        # The bundle layout's definition of block*.conv0.weight, against upstream's conv_transpose2d on the unfolded
        # layer (module tree: modulated weight, transposed conv, stride 2, no padding).
        g = torch.Generator().manual_seed(10)
        x = torch.randn(1, self.cfg.hid, 7, 5, generator=g)
        layer = self.model.superresolution.block0.conv0
        with torch.no_grad():
            styles = layer.affine(torch.ones(1, self.cfg.w_dim))
            w = layer.weight + (layer.lora_B @ layer.lora_A).view(layer.weight.shape) / layer.lora_r
            w = w * styles.view(1, -1, 1, 1)
            w = w * (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
            want = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        got = up_conv_zero_insert(x, self.tensors[SR + "block0.conv0.weight"])
        self.assertEqual(list(got.shape), [1, self.cfg.sr_ch, 15, 11])
        self.assertLess(rel_max(got, want), 2e-6)

    def test_torso_model(self):
        c = self.cfg
        g = torch.Generator().manual_seed(9)
        s = c.sr_res
        torso = torch.rand(1, 3, s, s, generator=g) * 2 - 1
        head = torch.rand(1, 3, s, s, generator=g) * 2 - 1
        hw = torch.rand(1, 1, s, s, generator=g)
        with torch.no_grad():
            w_rgb, w_hid, w_occ = self.model.superresolution.torso_model(
                torso, self.inputs["segmap"], self.inputs["kp_s"], self.inputs["kp_d"], head, hw)
            g_rgb, g_hid, g_occ = self.r.torso(torso, self.inputs["segmap"], self.inputs["kp_s"], self.inputs["kp_d"],
                                               head, hw)
        for a, b, k in ((g_rgb, w_rgb, "rgb"), (g_hid, w_hid, "hid"), (g_occ, w_occ, "occlusion_2")):
            self.assertLess(rel_max(a, b), 5e-6, k)

    def test_frame(self):
        for k in ("rgb_torso", "torso_alpha", "sr_image", "image"):
            self.assertLess(rel_max(self.got[k], self.ref[k]), 5e-6, k)
        self.assertGreater(float(self.got["image"].std()), 0.05)

    def test_head_threshold_one_keeps_the_head_alpha(self):
        # MimicTalk sets htbsr_head_threshold = 1.0: the person alpha is clamp(torso alpha + head alpha), the head
        # alpha (≤ 1) is never snapped to 1 as with the config's 0.9.
        r = (self.cfg.sr_res,) * 2
        aa = dict(mode="bilinear", align_corners=False, antialias=True)
        w = F.interpolate(self.got["weights_image"], size=r, **aa)
        want = (F.interpolate(self.got["torso_alpha"], size=r, **aa) + w).clamp(0, 1)
        self.assertLess(float((self.got["person_alpha"] - want).abs().max()), 1e-6)
        self.assertGreater(float(w.max()), 0.5)

    def test_float64_agrees_with_float32(self):
        with torch.no_grad():
            hi = Renderer(self.cfg, self.tensors, torch.float64).frame(self.inputs, self.rs, self.ri)
        for k in ("planes", "feature_image", "weights_image", "sr_image"):
            self.assertLess(rel_max(self.got[k], hi[k]), 1e-5, k)

    def test_variant_trigrid_depth3_rgb_torso_9_keypoints_and_rays_missing_the_box(self):
        cfg = RendererConfig.small(depth=3, trigrid=True, torso_in=3, kp_num=9)
        model, tri, detected, tensors = build(cfg, 11)
        self.assertEqual(detected, cfg)
        inputs = random_inputs(cfg, seed=12, focal=0.9)   # wide field of view: corner rays miss the box
        rs, ri = draws(cfg, 13)
        r = Renderer(cfg, tensors)
        o, d = r.rays(inputs["camera"])
        start, end = r.ray_limits(o, d)
        self.assertGreater(int((end == start.max()).sum()), 4)   # rays that miss: end = the largest valid start
        with torch.no_grad():
            ref = model(tri, inputs, rs, ri)
            got = r.frame(inputs, rs, ri)
        for k in ("planes", "feature_image", "depth_image", "sr_image"):
            self.assertLess(rel_max(got[k], ref[k]), 5e-6, k)


class QuirkTests(unittest.TestCase):
    def setUp(self):
        self.cfg = RendererConfig.small()
        self.r = Renderer(self.cfg, {})

    def test_invalid_rays_end_at_the_largest_valid_start(self):
        o = torch.tensor([0.0, 0.0, 3.0])
        d = F.normalize(torch.tensor([[0.0, 0.0, -1.0], [0.05, 0.02, -1.0], [1.0, 0.0, -0.2], [0.0, 1.0, -0.1]]), dim=1)
        start, end = self.r.ray_limits(o, d)
        valid_start = start[:2]
        self.assertTrue(torch.allclose(start[:2], torch.tensor([2.5, 2.5]), atol=0.02))
        self.assertEqual(float(start[2]), float(valid_start.min()))
        self.assertEqual(float(end[2]), float(valid_start.max()))   # max of starts, not of ends
        self.assertEqual(float(end[3]), float(valid_start.max()))

    def test_ray_order_is_row_major(self):
        cam = torch.zeros(25)
        cam[:16] = torch.eye(4).reshape(-1)
        cam[16:] = torch.tensor([1.0, 0, 0.5, 0, 1.0, 0.5, 0, 0, 1])
        _, d = self.r.rays(cam[None])
        R = self.cfg.nerf_res
        self.assertGreater(float(d[1, 0]), float(d[0, 0]))        # m = 1: next column → larger x
        self.assertAlmostEqual(float(d[1, 1] / d[1, 2]), float(d[0, 1] / d[0, 2]), places=6)
        self.assertGreater(float(d[R, 1]), float(d[0, 1]))        # m = R: next row → larger y
        self.assertAlmostEqual(float(d[0, 0] / d[0, 2]), (0.5 / R - 0.5), places=6)

    def test_upfirdn_padding_matches_bilinear_like_upsampling(self):
        # The skip upsampling (up 2, pad (2,1,2,1), gain 4) keeps a constant image constant inside and is shift
        # aligned: output pixel 2i+1 of a ramp lies 3/4 of the way between inputs i and i+1.
        x = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8).contiguous()
        y = upfirdn(x, fir_filter(), 2, (2, 1, 2, 1), 4.0)
        self.assertEqual(list(y.shape), [1, 1, 16, 16])
        self.assertAlmostEqual(float(y[0, 0, 8, 5]), 2.25, places=5)
        self.assertAlmostEqual(float(y[0, 0, 8, 6]), 2.75, places=5)

    def test_chunked_float64_convolution_equals_the_plain_one(self):
        g = torch.Generator().manual_seed(1)
        for f, x, w in ((F.conv2d, torch.randn(1, 5, 13, 11, generator=g), torch.randn(4, 5, 3, 3, generator=g)),
                        (F.conv3d, torch.randn(1, 3, 9, 6, 7, generator=g), torch.randn(2, 3, 7, 7, 7, generator=g))):
            x, w = x.double(), w.double()
            b = torch.randn(w.shape[0], generator=g).double()
            p = w.shape[-1] // 2
            got = chunked_conv(f, x, w, b, p, budget=4000)
            self.assertLess(float((got - f(x, w, b, padding=p)).abs().max()), 1e-12)

    def test_uint8_output_truncates(self):
        img = torch.tensor([1.0, 0.999, -1.0, 0.0]).view(1, 4, 1, 1).expand(1, 4, 1, 3)[:, :3].contiguous()
        u = to_uint8(img)
        self.assertEqual(u[0, 0].tolist(), [255, 254, 0])          # 0.999 → 254.87 → 254, not 255



if __name__ == "__main__":
    unittest.main()
