"""The upstream-exact offline path (tools/reference/full_window.py) and the seeded session noise
(tools/reference/motion_noise.py) that the Swift whole-path test replays."""
import json
import os
import unittest

import numpy as np
import torch

from tools.tests._common import FIXTURES
from tools.reference import safetensors_io, weights as W
from tools.reference.a2m import A2M, A2MConfig, Style, recipe as a2m_recipe, sample
from tools.reference.full_window import DROP_LAST_FRAMES, style_prompt, upstream_full_window, utterance_rows
from tools.reference.hubert import Hubert, HubertConfig, normalize_waveform, recipe as hubert_recipe, utterance_features
from tools.reference.motion_noise import motion_noise


def tiny_models(dtype=torch.float32):
    hc, ac = HubertConfig.tiny(True), A2MConfig.tiny()
    at = W.generate_all(a2m_recipe(ac))
    at["rotary.inv_freq"] = 1.0 / (ac.rope_theta ** (torch.arange(0, ac.dim_head, 2).float() / ac.dim_head))
    return Hubert(hc, W.generate_all(hubert_recipe(hc)), dtype), A2M(ac, at, dtype)


class UtteranceRowsTests(unittest.TestCase):
    def setUp(self):
        self.hubert, self.a2m = tiny_models()

    def test_whole_frames_give_upstream_counts(self):
        """N = 640·F samples: (N − (R − S)) // S = 2F − 1 rows, padded to a multiple of 8 ≥ 2F; upstream keeps
        T − 4 < F frames of the T-frame sample."""
        R, S = self.hubert.cfg.receptive_field, self.hubert.cfg.stride
        for F in (3, 4, 5, 13, 70):
            rows = (640 * F - (R - S)) // S
            padded = -(-rows // 8) * 8
            self.assertEqual(rows, 2 * F - 1)
            self.assertTrue(2 * F <= padded < 2 * F + 8)
            self.assertTrue(padded // 2 - DROP_LAST_FRAMES < F <= padded // 2)

    def test_chunks_and_padding(self):
        wave = (W.generate(W.entry("fw.test.wave", [640 * 13], 0.5))).numpy()
        rows = utterance_rows(self.hubert, wave, chunk_frames=6)
        self.assertEqual(rows.shape[0], 32)                       # 25 rows → 32
        self.assertTrue(bool((rows[25:] == 0).all()))
        x = normalize_waveform(wave)
        first = self.hubert.features(x[:6 * 320 - 320 + self.hubert.cfg.receptive_field])
        self.assertTrue(torch.equal(rows[:6], first))             # chunk 0 alone, normalised with all samples
        self.assertFalse(torch.allclose(rows[6:12], self.hubert.features(x)[6:12], atol=1e-4))  # context resets

    def test_remainder_shorter_than_the_overlap_drops_a_row_as_upstream(self):
        """Audio ending exactly on a chunk boundary: the chunks hold one row more than (N − (R − S)) // S, and
        upstream keeps the shorter count (the reference used to refuse this case)."""
        wave = W.generate(W.entry("fw.test.wave2", [2 * 6 * 320], 0.5)).numpy()
        h = utterance_features(self.hubert, wave, chunk_frames=6)
        self.assertEqual(h.shape[0], (wave.shape[0] - (self.hubert.cfg.receptive_field - 320)) // 320)
        self.assertEqual(h.shape[0], 11)

    def test_full_window_samples_the_padded_rows_and_keeps_t_minus_4(self):
        wave = W.generate(W.entry("fw.test.wave3", [640 * 13], 0.5)).numpy()
        noise = torch.from_numpy(motion_noise(5, 16, self.a2m.cfg.motion_dim))
        smotion = W.generate(W.entry("fw.test.style", [4, self.a2m.cfg.motion_dim], 1.0))
        style = style_prompt(self.hubert, smotion, W.generate(W.entry("fw.test.sw", [640 * 4], 0.5)).numpy(), 6)
        self.assertEqual(style.features.shape[0], 8)
        r = upstream_full_window(self.hubert, self.a2m, wave, noise=noise, style=style, steps=3, chunk_frames=6)
        self.assertEqual(tuple(r.motion.shape), (16, self.a2m.cfg.motion_dim))
        self.assertEqual(r.kept, 12)
        # Same as sampling the padded rows directly; without the zero rows every frame changes.
        direct = sample(self.a2m, r.features, style=style, noise=torch.cat([torch.zeros(4, 8), noise]), steps=3,
                        cfg_scale=1.5, temperature=0.3)
        self.assertTrue(torch.equal(direct, r.motion))
        unpadded = sample(self.a2m, r.features[:26], style=style, noise=torch.cat([torch.zeros(4, 8), noise[:13]]),
                          steps=3, cfg_scale=1.5, temperature=0.3)
        self.assertGreater(float((unpadded[:12] - r.motion[:12]).abs().max()), 1e-4)
        with self.assertRaises(ValueError):
            upstream_full_window(self.hubert, self.a2m, wave, noise=noise[:10], chunk_frames=6)


class MotionNoiseTests(unittest.TestCase):
    def test_counter_based_and_standard_normal(self):
        a = motion_noise(2026, 300, 8)
        self.assertEqual(a.dtype, np.float32)
        self.assertTrue(np.array_equal(motion_noise(2026, 5, 8), a[:5]))   # row f depends only on (seed, f)
        self.assertFalse(np.array_equal(motion_noise(2027, 5, 8), a[:5]))
        self.assertLess(abs(float(a.mean())), 0.06)
        self.assertLess(abs(float(a.std()) - 1), 0.06)

    def test_first_value_by_hand(self):
        mask = (1 << 64) - 1

        def mix(x):
            z = (x + 0x9E3779B97F4A7C15) & mask
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
            return z ^ (z >> 31)
        a, b = mix(7 ^ mix(0)), mix(7 ^ mix(1))
        u1, u2 = ((a >> 11) + 0.5) / 2.0 ** 53, (b >> 11) / 2.0 ** 53
        self.assertEqual(motion_noise(7, 1, 1)[0, 0], np.float32(np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)))


class FullWindowFixtureTests(unittest.TestCase):
    """The committed fixture is consistent and well conditioned (its float32 run is close to float64)."""

    def test_fixture_counts_and_noise_floor(self):
        with open(os.path.join(FIXTURES, "full_window.json")) as f:
            entry = json.load(f)
        c = entry["counts"]
        self.assertEqual((c["upstream_rows"], c["padded_rows"], c["frames"], c["kept"], c["session_frames"]),
                         (139, 144, 72, 68, 70))
        for name, e in entry["f32_error"].items():
            self.assertLess(e["max_abs"], 1e-5 * max(1.0, e["max_abs_golden"]), name)
        t = safetensors_io.read(os.path.join(FIXTURES, entry["file"]))
        self.assertTrue(np.array_equal(t["io.noise"].numpy(), motion_noise(entry["case"]["seed"], 72, 8)))
        self.assertLess(os.path.getsize(os.path.join(FIXTURES, entry["file"])), 64 * 1024)


    def test_full_size_entry_points_at_the_full_size_recipes(self):
        """full_window_large (opt-in Swift measurement) uses the recipes of fixtures.json's full-size entries."""
        with open(os.path.join(FIXTURES, "full_window_large.json")) as f:
            entry = json.load(f)
        with open(os.path.join(FIXTURES, "fixtures.json")) as f:
            models = json.load(f)["models"]
        self.assertEqual(models["hubert_large"]["recipe"], hubert_recipe(HubertConfig.from_manifest(entry["hubert"]["config"])))
        self.assertEqual(models["a2m_full"]["recipe"], a2m_recipe(A2MConfig.from_manifest(entry["a2m"]["config"])))
        c = entry["counts"]
        self.assertEqual((c["upstream_rows"], c["padded_rows"], c["frames"], c["kept"], c["session_frames"]), (59, 64, 32, 28, 30))
        self.assertEqual(entry["hubert"]["config"]["chunk_frames"], 1000)
        for name, e in entry["f32_error"].items():
            self.assertLess(e["max_abs"], 1e-5 * max(1.0, e["max_abs_golden"]), name)


if __name__ == "__main__":
    unittest.main()
