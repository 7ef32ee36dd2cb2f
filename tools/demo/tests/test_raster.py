"""Rasterizer conventions: projection, coverage, background, perspective-correct interpolation, eye holes."""
import os
import unittest

import numpy as np

from tools.demo import make_head
from tools.demo import raster_ref as rr
from tools.reference import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))

FIX = os.path.join(HERE, "..", "..", "..", "Tests", "Fixtures", "demo")


def unproject(u, v, zp, W):
    f = 1015.0 * W / 224.0
    return np.array([(u - W / 2) * zp / f, -(v - W / 2) * zp / f, 10.0 - zp])


class RasterTests(unittest.TestCase):
    def test_single_triangle_known_projection(self):
        W = 224  # f = 1015 exactly
        # screen-space triangle (u, v) at depth z' = 10 (z = 0)
        tri_uv = [(20.0, 30.0), (120.0, 40.0), (50.0, 150.0)]
        V = np.array([unproject(u, v, 10.0, W) for u, v in tri_uv])
        u, v, zp = rr.project(V, W, W)
        np.testing.assert_allclose(np.stack([u, v], 1), tri_uv, atol=1e-9)
        face, bary, depth = rr.rasterize(V, np.array([[0, 1, 2]]), W, W)
        # expected coverage from an independent half-plane test at pixel centres
        jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(W) + 0.5)
        P = np.array(tri_uv)
        s = []
        for a, b in ((0, 1), (1, 2), (2, 0)):
            s.append((P[b, 0] - P[a, 0]) * (ii - P[a, 1]) - (P[b, 1] - P[a, 1]) * (jj - P[a, 0]))
        inside = ((s[0] >= 0) & (s[1] >= 0) & (s[2] >= 0)) | ((s[0] <= 0) & (s[1] <= 0) & (s[2] <= 0))
        np.testing.assert_array_equal(face >= 0, inside)
        np.testing.assert_allclose(depth[inside], 10.0, atol=1e-9)
        # pixel (row 40, col 60): centre (60.5, 40.5) lies inside
        self.assertEqual(face[40, 60], 0)
        self.assertEqual(face[5, 5], -1)

    def test_background_is_minus_one_and_winding_ignored(self):
        V = np.array([[-0.1, -0.1, 0.0], [0.1, -0.1, 0.0], [0.0, 0.1, 0.0]])
        ncc = np.array([[0.2, 0.4, 0.6]] * 3)
        for F in (np.array([[0, 1, 2]]), np.array([[0, 2, 1]])):
            s = rr.secc_map(V, F, ncc, np.zeros(0, np.int64), 32, 32)
            self.assertEqual(s.shape, (3, 32, 32))
            self.assertEqual(s.dtype, np.float32)
            bg = s[0] == -1
            self.assertTrue(bg[0, 0] and bg[-1, -1])
            np.testing.assert_allclose(s[:, 16, 16], [-0.6, -0.2, 0.2], atol=1e-6)

    def test_perspective_correct_interpolation(self):
        W = 64
        # a slanted triangle; attribute = the 3D point's z (linear in 3D, not in screen space)
        V = np.array([[-0.2, -0.2, 1.5], [0.25, -0.15, -1.5], [0.0, 0.25, 0.0]])
        F = np.array([[0, 1, 2]])
        face, bary, depth = rr.rasterize(V, F, W, W)
        m = face >= 0
        self.assertGreater(m.sum(), 50)
        zattr = rr.interpolate(V[:, 2:3], F, face, bary)[..., 0]
        ii, jj = np.nonzero(m)
        for i, j in list(zip(ii, jj))[::7]:
            # intersect the pixel's ray with the triangle's plane
            f = 1015.0 * W / 224.0
            d = np.array([(j + 0.5 - W / 2) / f, -(i + 0.5 - W / 2) / f, -1.0])  # direction per unit z'
            o = np.array([0, 0, 10.0])
            n = np.cross(V[1] - V[0], V[2] - V[0])
            tt = (V[0] - o).dot(n) / d.dot(n)
            p = o + tt * d
            self.assertAlmostEqual(zattr[i, j], p[2], places=9)
            self.assertAlmostEqual(depth[i, j], 10.0 - p[2], places=9)
        # screen-linear interpolation would differ noticeably here
        lam_lin = None
        del lam_lin

    def test_nearest_wins_and_eye_faces_make_holes(self):
        g, _ = safetensors_io.load_arrays(os.path.join(FIX, "secc_golden.safetensors"))
        V = g["tri_vertices"].astype(np.float64)
        F = g["tri_triangles"]
        face, _, _ = rr.rasterize(V, F, 16, 16)
        self.assertTrue((face == 1).any())  # the near triangle wins where it covers
        s = rr.secc_map(V, F, g["tri_ncc"], g["tri_eye_faces"], 16, 16)
        hole = face == 1
        self.assertTrue((s[:, hole] == -1).all())
        covered = face == 0
        self.assertTrue((s[:, covered] > -1).any())
        np.testing.assert_array_equal(s, g["tri_secc16"])
        # without exclusion the near triangle shows its colour
        s2 = rr.secc_map(V, F, g["tri_ncc"], np.zeros(0, np.int64), 16, 16)
        self.assertTrue((s2[:, hole] > -1).any())
        self.assertTrue((s2[:, hole] != s[:, hole]).any())

    def test_depth_tie_goes_to_lowest_face_index(self):
        V = np.array([[-0.1, -0.1, 0.0], [0.1, -0.1, 0.0], [0.0, 0.1, 0.0]])
        F = np.array([[0, 1, 2], [2, 0, 1]])
        face, _, _ = rr.rasterize(V, F, 32, 32)
        self.assertTrue(((face == 0) | (face == -1)).all())

    def test_goldens_reproduce(self):
        t, _ = safetensors_io.load_arrays(os.path.join(FIX, "face_tiny.safetensors"))
        g, _ = safetensors_io.load_arrays(os.path.join(FIX, "secc_golden.safetensors"))
        n = 0
        for k in g:
            if "_secc" in k and k.startswith("case"):
                case = k.split("_")[0]
                S = int(k.split("secc")[1])
                V = make_head.expressed(t, g[case + "_id"], g[case + "_exp"])
                s = rr.secc_map(V, t["triangles"], t["ncc"], t["eye_faces"], S, S)
                np.testing.assert_allclose(s, g[k], atol=1e-6, err_msg=k)
                self.assertGreater((s[0] > -1).mean(), 0.2)
                self.assertGreater((s[0] == -1).mean(), 0.02)
                n += 1
        self.assertGreaterEqual(n, 5)

    def test_pose_goldens_reproduce(self):
        t, _ = safetensors_io.load_arrays(os.path.join(FIX, "face_tiny.safetensors"))
        g, _ = safetensors_io.load_arrays(os.path.join(FIX, "pose_golden.safetensors"))
        cases = sorted({k.split("_")[0] for k in g})
        self.assertGreaterEqual(len(cases), 2)
        for case in cases:
            V = rr.pose_vertices(make_head.expressed(t, None, g[case + "_exp"]), t, g[case + "_angles"])
            np.testing.assert_allclose(V, g[case + "_vertices"], atol=1e-6, err_msg=case)
            s = rr.secc_map(V, t["triangles"], t["ncc"], t["eye_faces"], 64, 64)
            np.testing.assert_allclose(s, g[case + "_secc64"], atol=1e-6, err_msg=case)
            self.assertGreater(np.abs(V - make_head.expressed(t, None, g[case + "_exp"])).max(), 0.05)

    def test_png_roundtrip_header(self):
        import tempfile
        import zlib
        img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.png")
            rr.write_png(p, img)
            data = open(p, "rb").read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        i = data.index(b"IDAT")
        n = int.from_bytes(data[i - 4:i], "big")
        raw = zlib.decompress(data[i + 4:i + 4 + n])
        np.testing.assert_array_equal(np.frombuffer(raw, np.uint8).reshape(4, 16)[:, 1:].reshape(4, 5, 3), img)


if __name__ == "__main__":
    unittest.main()
