"""tools/reference/mimictalk_offline.py and its fixture (Tests/Fixtures/mimictalk/offline.safetensors; the fixture
regenerates byte for byte in test_mimictalk_convert.py, which rewrites the whole fixture directory)."""
import copy
import json
import os
import unittest

import numpy as np

from tools import make_mimictalk_offline_fixture as offline_fixture
from tools.reference import face_pose, mimictalk_offline as mo, safetensors_io, secc
from tools.tests._common import REPO

BUNDLE = os.path.join(REPO, "Tests", "Fixtures", "mimictalk")


class UniformDrawTests(unittest.TestCase):
    def test_draws_are_24_bit_uniforms_in_unit_interval(self):
        x = mo.uniform_draws(5, 4096).astype(np.float64)
        self.assertTrue(((x >= 0) & (x < 1)).all())
        np.testing.assert_array_equal(x * (1 << 24), np.round(x * (1 << 24)))
        self.assertAlmostEqual(x.mean(), 0.5, delta=0.02)
        self.assertFalse(np.array_equal(mo.uniform_draws(5, 64), mo.uniform_draws(6, 64)))
        np.testing.assert_array_equal(mo.uniform_draws(5, 64), mo.uniform_draws(5, 100)[:64])

    def test_first_draw_by_hand(self):
        # SplitMix64 from state seed·golden + 0x632BE59BD9B4E019, one increment, the finalizer, top 24 bits.
        g, m = 0x9E3779B97F4A7C15, (1 << 64) - 1
        z = (3 * g + 0x632BE59BD9B4E019 + g) & m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        z ^= z >> 31
        self.assertEqual(float(mo.uniform_draws(3, 1)[0]), (z >> 40) / float(1 << 24))

    def test_frame_seeds_and_shapes(self):
        self.assertEqual(mo.draw_seed(7, 0), 7)
        self.assertEqual(mo.draw_seed((1 << 64) - 1, 1), (0x9E3779B97F4A7C15 - 1) & ((1 << 64) - 1))
        cfg = mo.Bundle(BUNDLE).renderer_cfg
        rs, ri = mo.frame_draws(cfg, 9, 2)
        m = cfg.nerf_res ** 2
        self.assertEqual(list(rs.shape), [1, m, cfg.samples_coarse, 1])
        self.assertEqual(list(ri.shape), [m, cfg.samples_fine])
        s = mo.draw_seed(9, 2)
        np.testing.assert_array_equal(rs.numpy().reshape(-1), mo.uniform_draws(s, rs.numel()))
        np.testing.assert_array_equal(ri.numpy().reshape(-1), mo.uniform_draws(s + 1, ri.numel()))


class OfflineFixtureTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t, meta = safetensors_io.load_arrays(os.path.join(BUNDLE, offline_fixture.FILE))
        cls.case = json.loads(meta["case"])
        cls.bundle = mo.Bundle(BUNDLE)

    def test_counts_and_frames(self):
        c, t = self.case, self.t
        self.assertEqual(c["sampler"], {"steps": 4, "cfg_scale": 1.5, "temperature": 0.3})
        self.assertEqual(c["style"], "calm")
        self.assertEqual(c["feature_rows"] % 8, 0)
        self.assertEqual(c["frames"], c["feature_rows"] // 2)
        self.assertEqual(c["kept"], c["frames"] - 4)
        self.assertTrue(c["kept"] < c["session_frames"] <= c["frames"])
        self.assertEqual(list(t["exp"].shape), [c["frames"], 64])
        self.assertEqual(list(t["keypoints"].shape), [c["kept"], 68, 2])
        self.assertEqual(list(t["cameras"].shape), [c["frames"], 25])
        frames = list(t["image_frames"])
        self.assertEqual((frames[0], frames[-1], len(frames)), (0, c["kept"] - 1, 6))
        np.testing.assert_array_equal(t["wave"], offline_fixture.utterance())

    def test_float32_floor_is_small(self):
        # Random weights that amplify rounding would make the float32 comparison meaningless.
        for name, (mx, _) in ((k[10:], v) for k, v in self.t.items() if k.startswith("f32_error.")):
            self.assertLess(mx, 1e-5, name)

    def test_keypoints_and_cameras_follow_upstream_ranges(self):
        # Keypoints: the kept frames' poses, smoothed over those frames only; cameras: smoothed over all T.
        t, c, b = self.t, self.case, self.bundle
        e, tr, te, tt = b.poses()
        euler, trans = face_pose.pose_sequence(c["frames"], e, tr, te, tt)
        k = c["kept"]
        raw = face_pose.torso_keypoints(b.face, b.identity["id"], t["exp"][:k], euler[:k], trans[:k])
        kp = face_pose.smooth_keypoints(raw.reshape(k, -1)).reshape(k, 68, 2)
        np.testing.assert_allclose(t["keypoints"], kp, atol=1e-6)
        np.testing.assert_allclose(t["cameras"], face_pose.utterance_cameras(c["frames"], e, tr, te, tt), atol=1e-6)
        self.assertGreater(np.abs(face_pose.utterance_cameras(k, e, tr, te, tt)[-1] - t["cameras"][k - 1]).max(), 1e-3)

    def test_images_depend_on_each_upstream_choice(self):
        # Each semantic choice moves the image far beyond the Swift test's tolerance (2e-4): wrong draws,
        # cond_src from another frame, no first-face quirk on the source maps.
        b, seed = self.bundle, self.case["seed"]
        off = mo.motion(b, self.t["wave"], seed)
        np.testing.assert_allclose(off.exp, self.t["exp"], atol=1e-6)
        k = off.kept - 1
        base = mo.render_frame(b, off, k, seed)
        np.testing.assert_allclose(base, self.t["images"][-1], atol=1e-6)
        self.assertGreater(np.abs(mo.render_frame(b, off, k, seed + 1) - base).max(), 1e-2)
        other = copy.copy(off)
        other.src = secc.secc_map(b.face, b.identity["id"], off.exp[1], b.renderer_cfg.img, True)
        self.assertGreater(np.abs(mo.render_frame(b, other, k, seed) - base).max(), 1e-3)
        other.src = secc.secc_map(b.face, b.identity["id"], off.exp[0], b.renderer_cfg.img, False)
        self.assertGreater(np.abs(mo.render_frame(b, other, k, seed) - base).max(), 1e-3)

    def test_refuses_frames_upstream_does_not_render(self):
        off = mo.motion(self.bundle, self.t["wave"], self.case["seed"])
        with self.assertRaises(ValueError):
            mo.render_frame(self.bundle, off, off.kept, self.case["seed"])


if __name__ == "__main__":
    unittest.main()
