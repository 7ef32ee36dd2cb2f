import math
import unittest

import torch
import torch.nn.functional as F

from tools.tests._common import rel_max
from tools import synth_checkpoint as synth
from tools.reference import conversion, weights as W
from tools.reference.a2m import (A2M, A2MConfig, StreamingPlan, Style, f0_to_coarse, recipe, relative_error, rotary_tables,
                           sample, sample_streaming, time_grid, upstream_utterance_length)


def tiny_model(aux=False, seed=7):
    cfg = A2MConfig.tiny(aux=aux)
    module = synth.make_a2m(cfg, seed).eval()
    return cfg, module, A2M(cfg, conversion.a2m_bundle_tensors(module.state_dict(), cfg))


class A2MTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg, cls.module, cls.model = tiny_model()
        g = torch.Generator().manual_seed(3)
        cls.T, cls.Tr = 14, 6
        cls.feats = torch.randn(2 * cls.T, cls.cfg.audio_dim, generator=g)
        cls.style = Style(torch.randn(cls.Tr, cls.cfg.motion_dim, generator=g),
                          torch.randn(2 * cls.Tr, cls.cfg.audio_dim, generator=g))
        cls.noise = torch.randn(cls.Tr + cls.T, cls.cfg.motion_dim, generator=g)

    def test_velocity_matches_module_tree(self):
        net = self.module.backbone.icl_transformer_model
        N = self.Tr + self.T
        feats = torch.cat([self.style.features, self.feats])
        cond = torch.zeros(N, self.cfg.motion_dim)
        cond[:self.Tr] = self.style.motion
        mask = torch.arange(N) >= self.Tr
        x = self.noise * 0.7
        emb = self.model.condition(self.model.encode_audio(feats))
        with torch.no_grad():
            audio = self.module.audio_condition(feats[None])
        for drop in (False, True):
            with torch.no_grad():
                want = net(x[None], torch.tensor([0.42]), audio, cond[None], mask[None], drop)[0]
            got = self.model.velocity(x, 0.42, emb, cond, mask, drop)
            self.assertLess(rel_max(got, want), 2e-5, f"drop_cond={drop}")

    def test_feed_forward_padding_is_exact(self):
        """The converters pad the GEGLU width to a multiple of 4; the padded bundle computes the same velocity."""
        self.assertNotEqual(self.cfg.ff_inner % 4, 0, "the tiny config must exercise padding")
        tensors = conversion.a2m_bundle_tensors(self.module.state_dict(), self.cfg)
        padded, cfg = conversion.pad_feed_forward(tensors, self.cfg)
        self.assertEqual(cfg.ff_inner % 4, 0)
        self.assertEqual(list(padded["layers.0.ff.out.weight"].shape), [self.cfg.dim, cfg.ff_inner])
        wide = A2M(cfg, padded)
        N = self.Tr + self.T
        feats = torch.cat([self.style.features, self.feats])
        cond = torch.zeros(N, self.cfg.motion_dim)
        mask = torch.arange(N) >= self.Tr
        emb = self.model.condition(self.model.encode_audio(feats))
        want = self.model.velocity(self.noise, 0.3, emb, cond, mask, False)
        got = wide.velocity(self.noise, 0.3, wide.condition(wide.encode_audio(feats)), cond, mask, False)
        self.assertLess(rel_max(got, want), 1e-6)

    def test_pair_mean_equals_bilinear_interpolation(self):
        a = torch.randn(20, 5)
        want = F.interpolate(a.t()[None, :, :, None], size=(10, 1), mode="bilinear", align_corners=False)[0, :, :, 0].t()
        got = 0.5 * (a[0::2] + a[1::2])
        self.assertLess(rel_max(got, want), 1e-6)

    def test_rotary_tables(self):
        inv = 1.0 / (50000.0 ** (torch.arange(0, 64, 2).float() / 64))
        cos, sin = rotary_tables(inv, 5, 16)
        self.assertEqual(list(cos.shape), [21, 64])
        angle = -10000.0 * inv.double()
        self.assertLess(float((cos[0, :32].double() - torch.cos(angle)).abs().max()), 2e-3)  # f32 angle rounding
        self.assertTrue(torch.equal(cos[:, :32], cos[:, 32:]))
        self.assertTrue(torch.equal(cos[16], torch.ones(64)))
        self.assertTrue(torch.equal(sin[16], torch.zeros(64)))
        self.assertLess(float((cos ** 2 + sin ** 2 - 1).abs().max()), 1e-6)

    def test_sample_matches_module_sampler(self):
        got = sample(self.model, self.feats, style=self.style, noise=self.noise, steps=5, cfg_scale=1.5,
                     temperature=0.6)
        want = self.module.sample(self.feats, self.style.motion, self.style.features, noise=self.noise, steps=5,
                                  cfg_scale=1.5, temperature=0.6)
        self.assertLess(rel_max(got, want), 1e-4)

    def test_temperature_zero_is_deterministic_and_ignores_noise(self):
        a = sample(self.model, self.feats, style=self.style, temperature=0.0, generator=torch.Generator().manual_seed(1))
        b = sample(self.model, self.feats, style=self.style, temperature=0.0, generator=torch.Generator().manual_seed(2))
        self.assertTrue(torch.equal(a, b))
        self.assertTrue(torch.isfinite(a).all())

    def test_injected_noise_is_deterministic_and_matters(self):
        a = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.5)
        b = sample(self.model, self.feats, style=self.style, noise=self.noise.clone(), temperature=0.5)
        self.assertTrue(torch.equal(a, b))
        c = sample(self.model, self.feats, style=self.style, noise=-self.noise, temperature=0.5)
        self.assertGreater(float((a - c).abs().max()), 1e-3)
        # Noise on the prompt rows is irrelevant: the model zeroes x there.
        n2 = self.noise.clone()
        n2[:self.Tr] = 100.0
        d = sample(self.model, self.feats, style=self.style, noise=n2, temperature=0.5)
        self.assertLess(rel_max(d, a), 1e-6)

    def test_cfg_scale_one_is_conditional_only(self):
        N = self.Tr + self.T
        emb = self.model.condition(self.model.encode_audio(torch.cat([self.style.features, self.feats])))
        cond = torch.zeros(N, self.cfg.motion_dim)
        mask = torch.arange(N) >= self.Tr
        v1 = self.model.guided_velocity(self.noise, 0.1, emb, cond, mask, 1.0)
        vc = self.model.velocity(self.noise, 0.1, emb, cond, mask, False)
        self.assertTrue(torch.equal(v1, vc))

    def test_streaming_equals_offline_when_one_window_covers_everything(self):
        off = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.5)
        st = sample_streaming(self.model, self.feats, plan=StreamingPlan(hop=self.T, lookahead=0, left_context=0),
                              style=self.style, noise=self.noise[self.Tr:], temperature=0.5)
        self.assertLess(rel_max(st, off), 1e-6)

    def test_streaming_windows_and_error_figure(self):
        windows = []
        plan = StreamingPlan(hop=4, lookahead=2, left_context=5)
        off = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.3)
        st = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                              temperature=0.3, windows=windows)
        self.assertEqual(windows, [(0, 0, 6), (0, 4, 10), (3, 8, 14), (7, 12, 14)])
        self.assertEqual(plan.latency_ms(), 240.0)
        err = relative_error(st, off)
        self.assertTrue(0.0 < err < 2.0, err)
        print(f"\n  tiny A2M streaming vs offline (hop 4, look-ahead 2, left context 5): relative error {err:.3f}")

    def test_audio_context_windows(self):
        # stream_context "audio": the left context is sampled again as target rows. A window that reaches back to
        # frame 0 and on to the end is the offline sample, so with hop 1 every emitted frame is offline's; with no
        # left context the two context schemes are the same windows; an unknown scheme is refused.
        off = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.5)
        windows = []
        st = sample_streaming(self.model, self.feats, plan=StreamingPlan(hop=1, lookahead=self.T, left_context=self.T),
                              style=self.style, noise=self.noise[self.Tr:], temperature=0.5, context="audio",
                              windows=windows)
        self.assertLess(rel_max(st, off), 1e-5)
        self.assertEqual(windows, [(0, s, self.T) for s in range(self.T)])
        plan = StreamingPlan(hop=4, lookahead=2, left_context=0)
        a = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                             temperature=0.5, context="audio")
        m = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                             temperature=0.5)
        self.assertTrue(torch.equal(a, m))
        plan = StreamingPlan(hop=4, lookahead=2, left_context=5)
        a = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                             temperature=0.5, context="audio")
        m = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                             temperature=0.5)
        self.assertGreater(float((a - m).abs().max()), 1e-4)
        with self.assertRaises(ValueError):
            sample_streaming(self.model, self.feats, plan=plan, style=self.style, context="prompt")

    def test_temperature_scale_scales_the_noise_per_dimension(self):
        # avatard's temperature_dims: a scale on some dimensions is the same sample as that noise column scaled
        D = self.noise.shape[1]
        scale = torch.ones(D)
        scale[[0, D - 1]] = 2.0
        noise2 = self.noise.clone()
        noise2[:, [0, D - 1]] *= 2.0
        got = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.5, temperature_scale=scale)
        want = sample(self.model, self.feats, style=self.style, noise=noise2, temperature=0.5)
        self.assertTrue(torch.equal(got, want))
        plain = sample(self.model, self.feats, style=self.style, noise=self.noise, temperature=0.5)
        self.assertGreater(float((got - plain).abs().max()), 1e-4)
        plan = StreamingPlan(hop=4, lookahead=2, left_context=5)
        st = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=self.noise[self.Tr:],
                              temperature=0.5, temperature_scale=scale)
        st2 = sample_streaming(self.model, self.feats, plan=plan, style=self.style, noise=noise2[self.Tr:], temperature=0.5)
        self.assertTrue(torch.equal(st, st2))

    def test_aux_path_matches_module(self):
        cfg, module, model = tiny_model(aux=True, seed=9)
        g = torch.Generator().manual_seed(4)
        feats = torch.randn(16, cfg.audio_dim, generator=g)
        f0 = f0_to_coarse(torch.linspace(0, 900, 16))
        self.assertEqual(int(f0[0]), 1)
        self.assertTrue(bool((f0 >= 1).all() and (f0 <= 255).all()))
        noise = torch.randn(8, cfg.motion_dim, generator=g)
        got = sample(model, feats, noise=noise, temperature=1.0, f0_coarse=f0)
        want = module.sample(feats, noise=noise, temperature=1.0, f0_coarse=f0)
        self.assertLess(rel_max(got, want), 1e-4)

    def test_time_grid_and_lengths(self):
        self.assertEqual(time_grid(2), [0.0, 1.0])
        grid = torch.tensor(time_grid(20))
        self.assertLess(float((grid - torch.linspace(0, 1, 20)).abs().max()), 1.2e-7)
        self.assertEqual(upstream_utterance_length(501), (504, 252, 248))
        with self.assertRaises(ValueError):
            time_grid(1)

    def test_recipe_covers_every_tensor(self):
        cfg = A2MConfig.tiny(aux=True)
        names = {e["name"] for e in recipe(cfg)} | {"rotary.inv_freq"}
        from tools.reference.a2m import tensor_shapes
        self.assertEqual(names, set(tensor_shapes(cfg)))
        tensors = W.generate_all(recipe(cfg))
        tensors["rotary.inv_freq"] = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.dim_head, 2).float() / cfg.dim_head))
        A2M(cfg, tensors)  # validates names and shapes

    def test_full_size_parameter_count(self):
        from tools.reference.a2m import tensor_shapes
        n = sum(math.prod(s) for s in tensor_shapes(A2MConfig()).values())
        self.assertTrue(34.5e6 < n < 35.2e6, n)


if __name__ == "__main__":
    unittest.main()
