"""Viseme mapping and coarticulation."""
import unittest

import numpy as np

from tools.demo import visemes as vz

J, LP, PU, TU = vz.IDX["jaw_open"], vz.IDX["lips_pressed"], vz.IDX["lip_pucker"], vz.IDX["lower_lip_tuck"]


def segs_for(seq, sr=16000):
    """[(phoneme, duration_s)] -> events -> segments."""
    ev, pos = [], 0
    for ph, d in seq:
        ev.append((ph, pos))
        pos += int(d * sr)
    return vz.segments_from_events(ev, pos, sr), pos


class VisemeTests(unittest.TestCase):
    def test_classification(self):
        for ph in ("p", "b", "m"):
            self.assertEqual(vz.classify(ph), ["PBM"])
        self.assertEqual(vz.classify("f"), ["FV"])
        self.assertEqual(vz.classify("aI"), ["AA", "IH"])
        self.assertEqual(vz.classify("_:"), ["sil"])
        self.assertEqual(vz.classify("O2"), ["AO"])
        self.assertIn(vz.classify("zz9")[0], vz.VISEMES)  # unknown -> some viseme, never an error

    def test_bilabials_close_the_lips_between_open_vowels(self):
        seq = [("_:", 0.4), ("A:", 0.15), ("m", 0.08), ("A:", 0.15), ("b", 0.06), ("A:", 0.15), ("p", 0.07),
               ("A:", 0.15), ("_:", 0.4)]
        segs, n = segs_for(seq)
        T = n // 640
        tr = vz.trajectory(segs, T)
        tf = (np.arange(T) + 0.5) / 25
        for v, t0, t1 in segs:
            if v == "PBM":
                k = int(np.argmin(np.abs(tf - 0.5 * (t0 + t1))))
                self.assertLessEqual(tr[k, J], 0.1, (t0, tr[k]))
                self.assertGreaterEqual(tr[k, LP], 0.5)
            if v == "AA":
                k = int(np.argmin(np.abs(tf - 0.5 * (t0 + t1))))
                self.assertGreater(tr[k, J], 0.35)

    def test_silence_is_the_sealed_rest_pose(self):
        segs, n = segs_for([("_:", 1.0), ("u:", 0.2), ("_:", 1.0)])
        tr = vz.trajectory(segs, n // 640)
        rest = vz._target("sil")
        self.assertLess(rest[J], 0.0)  # past contact: the lips stay sealed within a model's error
        np.testing.assert_array_equal(tr[:10], np.tile(rest, (10, 1)))
        np.testing.assert_array_equal(tr[-10:], np.tile(rest, (10, 1)))
        self.assertGreater(tr[:, PU].max(), 0.5)  # rounded vowel puckers

    def test_bilabial_closure_is_held_past_contact(self):
        segs, n = segs_for([("_:", 0.3), ("A:", 0.2), ("m", 0.12), ("A:", 0.2), ("_:", 0.3)])
        tr = vz.trajectory(segs, n // 640)
        tf = (np.arange(len(tr)) + 0.5) / 25
        (t0, t1), = [(a, b) for v, a, b in segs if v == "PBM"]
        inside = (tf > t0 + 0.01) & (tf < t1 - 0.01)
        self.assertTrue(inside.any())
        np.testing.assert_allclose(tr[inside, J], vz.CLOSED_JAW, atol=0.01)

    def test_labiodental_tucks_lower_lip(self):
        segs, n = segs_for([("_:", 0.3), ("A:", 0.15), ("f", 0.12), ("A:", 0.15), ("_:", 0.3)])
        tr = vz.trajectory(segs, n // 640)
        self.assertGreater(tr[:, TU].max(), 0.5)

    def test_idle_motion_blinks(self):
        rng = np.random.default_rng(1)
        m = vz.idle_motion(500, rng)
        bl = m[:, vz.IDX["blink_left"]]
        self.assertGreater(bl.max(), 0.8)
        self.assertGreater(((bl[1:] > 0.5) & (bl[:-1] <= 0.5)).sum(), 3)  # several blinks in 20 s
        self.assertLess((bl > 0.5).mean(), 0.2)


if __name__ == "__main__":
    unittest.main()
