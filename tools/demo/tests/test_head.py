"""Head generator invariants (tiny resolution; the committed fixture doubles as a determinism check)."""
import os
import unittest

import numpy as np

from tools.demo import make_head
from tools.reference import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))

FIXTURE = os.path.join(HERE, "..", "..", "..", "Tests", "Fixtures", "demo", "face_tiny.safetensors")


class HeadTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.M = make_head.build_model("tiny")
        cls.t, cls.meta = make_head.to_tensors(cls.M)

    def test_triangles_in_range_and_not_degenerate(self):
        V, F = self.t["mean_shape"].astype(np.float64), self.t["triangles"]
        self.assertEqual(F.shape[1], 3)
        self.assertTrue((F >= 0).all() and (F < len(V)).all())
        self.assertTrue((F[:, 0] != F[:, 1]).all() and (F[:, 1] != F[:, 2]).all() and (F[:, 0] != F[:, 2]).all())
        area = 0.5 * np.linalg.norm(np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]]), axis=1)
        self.assertGreater(area.min(), 1e-9)

    def test_basis_shapes_and_names(self):
        N = len(self.t["mean_shape"])
        self.assertEqual(self.t["exp_basis"].shape, (3 * N, len(make_head.EXP_NAMES)))
        self.assertEqual(self.t["id_basis"].shape, (3 * N, len(make_head.ID_DIMS)))
        self.assertEqual(self.meta["exp_names"].split(","), make_head.EXP_NAMES)
        self.assertTrue(12 <= len(make_head.EXP_NAMES) <= 20)
        for k in range(self.t["exp_basis"].shape[1]):
            self.assertGreater(np.abs(self.t["exp_basis"][:, k]).max(), 0.01, make_head.EXP_NAMES[k])
        for k in range(self.t["id_basis"].shape[1]):
            self.assertGreater(np.abs(self.t["id_basis"][:, k]).max(), 0.005)
        self.assertEqual(self.t["keypoints"].shape, (68,))
        self.assertTrue((self.t["keypoints"] >= 0).all() and (self.t["keypoints"] < N).all())
        self.assertTrue((self.t["ncc"] >= 0).all() and (self.t["ncc"] <= 1).all())
        self.assertEqual(self.t["vertex_region"].shape, (N,))
        self.assertEqual(len(self.t["region_colors"]), len(make_head.REGIONS))

    def test_recentred_on_face_and_bfm_sized(self):
        V = self.t["mean_shape"]
        eyes = V[np.isin(self.t["vertex_region"], [make_head.R["iris"]])]
        ipd = eyes[eyes[:, 0] > 0, 0].mean() - eyes[eyes[:, 0] < 0, 0].mean()
        self.assertGreater(ipd, 0.5)  # ~6 cm in BFM units (1 = 10 cm)
        self.assertLess(ipd, 0.75)
        self.assertLess(abs(V[:, 0].mean()), 0.02)

    def _slit_pairs(self, V):
        info = self.M["skin"]
        side = info["side"]
        rows = info["rows"]
        r_m = rows[info["n"] - 2]
        upper = np.where((rows == r_m) & (side > 0))[0]
        lower = np.where((rows == r_m) & (side < 0))[0]
        pu = V[upper]
        pl = V[lower]
        # pair each lower copy with the upper vertex on the same ray (same x at neutral)
        idx = [upper[np.argmin(np.abs(pu[:, 0] - p[0]) + np.abs(pu[:, 2] - p[2]))] for p in pl]
        return np.array(idx), lower

    def test_neutral_mouth_closed_and_jaw_opens(self):
        V0 = make_head.expressed(self.t)
        up, lo = self._slit_pairs(V0)
        self.assertGreaterEqual(len(lo), 3)
        self.assertLess(np.abs(V0[up] - V0[lo]).max(), 1e-6)
        c = np.zeros(len(make_head.EXP_NAMES))
        c[make_head.EXP_NAMES.index("jaw_open")] = 1.0
        V1 = make_head.expressed(self.t, None, c)
        gap = V1[up, 1] - V1[lo, 1]
        self.assertGreater(gap.max(), 0.15)  # > 1.5 cm between the lips in the middle
        self.assertTrue((gap >= -1e-6).all())
        # upper teeth stay, the chin goes down
        chin = self.t["keypoints"][8]
        self.assertLess(V1[chin, 1] - V0[chin, 1], -0.1)

    def test_blink_covers_the_eye(self):
        from tools.demo.raster_ref import rasterize
        V0 = make_head.expressed(self.t)
        c = np.zeros(len(make_head.EXP_NAMES))
        c[make_head.EXP_NAMES.index("blink_left")] = 1.0
        c[make_head.EXP_NAMES.index("blink_right")] = 1.0
        V1 = make_head.expressed(self.t, None, c)
        eye = np.zeros(len(self.t["triangles"]) + 1, bool)
        eye[self.t["eye_faces"]] = True
        f0, _, _ = rasterize(V0, self.t["triangles"], 128, 128)
        f1, _, _ = rasterize(V1, self.t["triangles"], 128, 128)
        open_px, closed_px = eye[f0].sum(), eye[f1].sum()
        self.assertGreater(open_px, 20)
        self.assertLess(closed_px, 0.5 * open_px)  # tiny mesh: coarse lids (full mesh: see docs)

    def test_eye_faces_are_eyeballs(self):
        F = self.t["triangles"]
        reg = self.t["vertex_region"][F[self.t["eye_faces"]]]
        self.assertTrue(np.isin(reg, [make_head.R["eye_white"], make_head.R["iris"], make_head.R["pupil"]]).all())

    def test_pose_rig(self):
        V, part = self.t["mean_shape"].astype(np.float64), self.M["part"]
        w, p = self.t["pose_weight"], self.t["pose_pivot"].astype(np.float64)
        self.assertEqual(w.shape, (len(V),))
        self.assertTrue(((w >= 0) & (w <= 1)).all())
        self.assertTrue((w[part != "skin"] == 1).all())  # eyes, teeth, tongue, mouth interior, ears
        self.assertTrue((w[V[:, 1] > -0.7] == 1).all())   # the whole head above the chin
        bottom = V[:, 1] < V[:, 1].min() + 0.05
        self.assertTrue((w[bottom] == 0).all())
        chin = V[self.t["keypoints"][8]]
        # upper neck: below the jaw line, behind the face, on the midline
        self.assertEqual(p[0], 0.0)
        self.assertTrue(chin[1] - 0.2 < p[1] < chin[1] + 0.3, (p, chin))
        self.assertTrue(p[2] < chin[2] - 0.5, (p, chin))

    def test_pose_convention(self):
        from tools.demo import raster_ref as rr
        V = self.t["mean_shape"].astype(np.float64)
        nose = self.t["keypoints"][30]
        top = int(np.argmax(V[:, 1]))
        pitch = rr.pose_vertices(V, self.t, (1.0, 0, 0))
        self.assertLess(pitch[nose, 1], V[nose, 1] - 0.05)  # a nod: the nose goes down
        yaw = rr.pose_vertices(V, self.t, (0, 1.0, 0))
        self.assertGreater(yaw[nose, 0], V[nose, 0] + 0.05)  # towards +x
        roll = rr.pose_vertices(V, self.t, (0, 0, 1.0))
        self.assertLess(roll[top, 0], V[top, 0] - 0.05)  # the top of the head towards -x
        # rigid on the head: distances between head vertices keep, the neck bottom stays
        R = rr.pose_vertices(V, self.t, (0.5, -1.2, 0.7))
        head = np.where(self.t["pose_weight"] == 1)[0][:200]
        d0 = np.linalg.norm(V[head, None] - V[None, head], axis=-1)
        d1 = np.linalg.norm(R[head, None] - R[None, head], axis=-1)
        np.testing.assert_allclose(d1, d0, atol=1e-12)
        still = self.t["pose_weight"] == 0
        self.assertTrue(still.sum() > 10)
        np.testing.assert_array_equal(R[still], V[still])
        np.testing.assert_allclose(rr.head_rotation(0.3, 0.2, 0.1), rr.head_rotation(0, 0.2, 0) @ rr.head_rotation(0.3, 0, 0)
                                   @ rr.head_rotation(0, 0, 0.1), atol=1e-15)

    def test_deterministic_against_fixture(self):
        ft, fmeta = safetensors_io.load_arrays(FIXTURE)
        self.assertEqual(sorted(ft), sorted(self.t))
        for k in ft:
            np.testing.assert_array_equal(ft[k], self.t[k], err_msg=k)
        self.assertEqual(fmeta["exp_names"], self.meta["exp_names"])


if __name__ == "__main__":
    unittest.main()
