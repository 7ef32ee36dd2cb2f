"""Smoke test of tools/demo/eval_a2m.py: a bundle from a few training steps on `make_dataset.py --small` data, read
back the way eval_a2m reads it (manifest + safetensors), sampled offline and streaming, and the measures."""
import argparse
import math
import os
import tempfile
import unittest

import numpy as np
import torch

from tools.demo import eval_a2m, human_speech
from tools.demo import make_dataset
from tools.demo import train_a2m

HERE = os.path.dirname(os.path.abspath(__file__))


class EvalA2MSmokeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.data = os.path.join(d, "data")
        cls.work = os.path.join(d, "work")
        cls.bundle = os.path.join(d, "bundle")
        make_dataset.main(["--small", "--out", cls.data])
        args = argparse.Namespace(data=cls.data, work=cls.work, minutes=1, steps=3, batch=2, lr=1e-3, cfg_drop=0.5,
                                  threads=1, seed=7, fresh=True, export=cls.bundle, export_only=False,
                                  face=eval_a2m.DEFAULT_FACE, gap_weight=8.0, closed_weight=3.0, init=None,
                                  self_context=0.0, self_context_tau=3.0, head_weight=1.0, window_batches=0.0)
        torch.set_num_threads(1)
        cls.model, cls.corpus = train_a2m.train(args)
        cls.exp_names = cls.corpus["exp_names"]
        train_a2m.export(cls.model, cls.exp_names, cls.corpus, cls.bundle, train_a2m.SAMPLER_DEFAULTS)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_sampling_and_measures(self):
        b = eval_a2m.Bundle(self.bundle)
        style = b.style("calm")
        u = [u for u in self.corpus["utts"] if u["split"] == "train"][0]
        wave = u["wave"].numpy()[:60 * 640 + 80]
        feats = b.features(wave)
        self.assertEqual(feats.shape[0], 120)
        noise = eval_a2m.noise_for(1, 60, b.cfg.motion_dim)
        off = eval_a2m.run_offline(b, feats, style, noise)
        st = eval_a2m.run_stream(b, feats, style, noise, (4, 2, 8))
        self.assertEqual(tuple(off.shape), (60, len(self.exp_names)))
        self.assertTrue(torch.isfinite(off).all() and torch.isfinite(st).all())
        # the bundle's soft limit of the head pose (train_a2m.HEAD_LIMIT) holds in streaming
        self.assertEqual(b.window["limit"], train_a2m.HEAD_LIMIT)
        self.assertLess(float(st[:, b.window["limit_dims"]].abs().max()), train_a2m.HEAD_LIMIT)
        # without it, one window covering the utterance is the offline run, whatever the context mode
        for context in ("motion", "audio"):
            b.window = {"limit_dims": [], "limit": 0.0, "context": context}
            whole = eval_a2m.run_stream(b, feats, style, noise, (60, 0, 0))
            self.assertLess(float((whole - off).abs().max()), 1e-5)
        gap = eval_a2m.LipGap(eval_a2m.DEFAULT_FACE, self.exp_names)
        zero = torch.zeros(2, len(self.exp_names))
        self.assertAlmostEqual(float(gap(zero)[0]), 0.0, places=4)  # the lips touch at neutral
        opened = zero.clone()
        opened[:, self.exp_names.index("jaw_open")] = 1.0
        self.assertGreater(float(gap(opened)[0]), 20.0)  # 17° of jaw: about 3 cm at the lip slit
        w = eval_a2m.bilabial_windows(u["phonemes"], u["targets"].shape[0])
        self.assertTrue(w)
        tg = eval_a2m.min_gaps(gap(u["targets"]), w)
        self.assertLess(float(np.median(tg)), 3.0)  # the targets close the lips at /p b m/

    def test_helpers(self):
        self.assertEqual(eval_a2m.peaks(np.array([0, 5, 1, 6, 0.5, 0.4, 7, 6.5, 0])), 3)
        self.assertEqual(eval_a2m.peaks(np.array([0, 5, 4.5, 5.2, 0])), 1)  # a dip of 0.5 mm is no new syllable
        x = np.sin(np.arange(48000) * 2 * math.pi * 440 / 48000).astype(np.float32)
        y = human_speech.resample(x, 48000, 16000)
        self.assertEqual(len(y), 16000)
        ref_y = np.sin(np.arange(16000) * 2 * math.pi * 440 / 16000)
        self.assertLess(float(np.abs(y - ref_y).max()), 1e-3)
        db, sp = eval_a2m.speech_frames(np.concatenate([x[:16000], np.zeros(16000, np.float32)]))
        self.assertEqual(int(sp.sum()), 25)
        # rest frames: ≥ 200 ms (5 frames) from speech on both sides
        vis = np.array([0] * 7 + [3, 3] + [0] * 12 + [3])
        self.assertEqual(np.nonzero(eval_a2m.rest_frames(vis))[0].tolist(), [0, 1, 14, 15])

    def test_level_copy_ceiling(self):
        env = np.array([-60, -40, -10, -5, -20, -8, -3, -30, -60], np.float64)
        # a mouth that never shuts: the best one is the level itself
        self.assertAlmostEqual(eval_a2m.level_copy_ceiling(np.full(9, 5.0), env), 1.0, places=9)
        # shut only on the two quietest frames, which share one level: still a perfect copy
        g = np.array([0, 5, 5, 5, 5, 5, 5, 5, 0], np.float64)
        self.assertAlmostEqual(eval_a2m.level_copy_ceiling(g, env), 1.0, places=9)
        # shut on a loud frame too (a closure in speech): the bound drops, and no other mouth with these closures
        # does better (random open-frame values, the shut frames at one gap)
        g[3] = -0.5
        ceiling = eval_a2m.level_copy_ceiling(g, env)
        self.assertLess(ceiling, 0.99)
        rng = np.random.default_rng(3)
        shut = g <= eval_a2m.REST_CLOSED_MM
        for _ in range(200):
            mouth = np.where(shut, 0.0, rng.normal(0, 1, 9) + 0.3 * (env + 60))
            c = eval_a2m.pearson(torch.from_numpy(mouth), torch.from_numpy(env))
            self.assertLessEqual(c, ceiling + 1e-9)

    def test_level_blend(self):
        names = list(eval_a2m.targets.MOTION_NAMES)
        gap = eval_a2m.LipGap(eval_a2m.DEFAULT_FACE, names)
        jaw = names.index("jaw_open")
        F_ = 6
        m = torch.zeros(F_, len(names))
        m[:, jaw] = torch.tensor([0.0, 0.2, 0.2, 0.2, 0.2, 0.0])  # shut, four open frames, shut
        feats = torch.full((2 * F_, 80), -20.0)
        feats[2:4] = 0.0   # frame 1: the loudest
        feats[6:8] = -5.0  # frame 3: 5 nepers (≈ 21.7 dB) quieter per band
        g = gap(m).numpy()
        self.assertTrue(g[0] <= 1.0 and g[1] > 1.0)
        same = eval_a2m.LevelBlend(gap, names, 0.0)(m, feats)
        self.assertLess(float((same - m).abs().max()), 1e-6)  # weight 0: nothing changes
        out = eval_a2m.LevelBlend(gap, names, 0.5, floor_db=-30.0, release_db_s=0.0, open_mm=16.0)(m, feats)
        go = gap(out).numpy()
        self.assertAlmostEqual(go[0], g[0], places=4)  # shut frames are left alone
        self.assertAlmostEqual(go[5], g[5], places=4)
        self.assertAlmostEqual(go[1], 0.5 * g[1] + 0.5 * 16.0, places=3)  # at the peak: half way to open_mm
        loud3 = (1 - 10 * 5 / math.log(10) / 30) * 16.0
        self.assertAlmostEqual(go[3], 0.5 * g[3] + 0.5 * loud3, places=3)
        self.assertGreaterEqual(go[2], 1.0 - 1e-6)  # a silent open frame goes no further than shut_mm
        others = [i for i in range(len(names)) if i != jaw]
        self.assertEqual(float((out[:, others] - m[:, others]).abs().max()), 0.0)  # only jaw_open moves

    def test_head_figures(self):
        names = list(eval_a2m.targets.MOTION_NAMES)
        F_ = 100
        m = torch.zeros(F_, len(names))
        t = torch.arange(F_, dtype=torch.float32)
        m[:50, names.index("head_yaw")] = 0.2 * torch.sin(t[:50] / 3)  # ±2° while speaking
        m[50:, names.index("head_yaw")] = 0.05 * torch.sin(t[50:] / 3)  # ±0.5° in silence
        m[60, names.index("head_pitch")] = 0.1                         # one 1° spike
        speaking = torch.zeros(F_, dtype=torch.bool)
        speaking[:50] = True
        h = eval_a2m.head_figures([{"x": m, "speaking": speaking}], "x", names)
        self.assertAlmostEqual(h["speaking_std_deg"][1], 2 / math.sqrt(2), delta=0.25)
        self.assertAlmostEqual(h["silence_std_deg"][1], 0.5 / math.sqrt(2), delta=0.1)
        self.assertAlmostEqual(h["max_step_deg"], 1.0, places=4)
        self.assertGreater(h["speaking_speed_deg_s"], h["silence_speed_deg_s"])
        # correlation with a reference pose: itself 1, a shifted copy less, per axis, each centred on its mean
        shifted = m.clone()
        shifted[:, names.index("head_yaw")] = torch.roll(m[:, names.index("head_yaw")], 4) + 0.3
        c = eval_a2m.head_correlation([{"x": m, "y": m + 0.1, "z": shifted}], "x", "y", names)
        self.assertAlmostEqual(c[1], 1.0, places=6)
        self.assertAlmostEqual(c[0], 1.0, places=6)
        c = eval_a2m.head_correlation([{"x": m, "z": shifted}], "z", "x", names)
        self.assertLess(c[1], 0.9)


if __name__ == "__main__":
    unittest.main()
