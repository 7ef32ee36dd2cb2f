"""Pose-track reader (tools/reference/pose_track.py): upstream's pickled coefficient dicts read without running
anything, plain [L, 6] arrays, and refusals."""
import os
import unittest

import numpy as np

from tools.reference import pose_track
from tools.reference.restricted_load import UnsafePickleError
from tools.tests._common import tempdir


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class PoseTrackTests(unittest.TestCase):
    def setUp(self):
        self.d = tempdir(self)
        self.rng = np.random.default_rng(9)

    def save(self, name, obj, **kw):
        path = os.path.join(self.d, name)
        np.save(path, obj, **kw)
        return path

    def test_upstream_coefficient_dict(self):
        fit = {"id": self.rng.random((7, 80), dtype=np.float32), "exp": self.rng.random((7, 64), dtype=np.float32),
               "euler": self.rng.random((7, 3), dtype=np.float32),
               "trans": np.asfortranarray(self.rng.random((7, 3))),  # float64, Fortran order
               "lm68": self.rng.random((7, 68, 2), dtype=np.float32), "fps": np.float32(25.0), "video": "train.mp4"}
        path = self.save("fit.npy", fit, allow_pickle=True)
        euler, trans = pose_track.load_pose_track(path)
        np.testing.assert_array_equal(euler, fit["euler"])
        np.testing.assert_array_equal(trans, fit["trans"])
        whole = pose_track.load_npy(path)
        self.assertEqual(whole["video"], "train.mp4")
        self.assertEqual(whole["fps"], np.float32(25.0))
        np.testing.assert_array_equal(whole["lm68"], fit["lm68"])

    def test_plain_array(self):
        poses = self.rng.normal(size=(4, 6))
        euler, trans = pose_track.load_pose_track(self.save("plain.npy", poses))
        np.testing.assert_array_equal(euler, poses[:, :3])
        np.testing.assert_array_equal(trans, poses[:, 3:])

    def test_a_pickle_that_tries_to_run_code_is_refused(self):
        marker = os.path.join(self.d, "ran")
        path = self.save("evil.npy", {"euler": _RunsCode(marker), "trans": np.zeros((1, 3))}, allow_pickle=True)
        with self.assertRaisesRegex(UnsafePickleError, r"evil.npy: refusing to unpickle global '(io|builtins).open'"):
            pose_track.load_pose_track(path)
        self.assertFalse(os.path.exists(marker))

    def test_refusals_name_the_file_and_what_was_expected(self):
        cases = [
            ("nokey.npy", {"euler": np.zeros((3, 3))}, r"nokey.npy: key 'trans' is missing"),
            ("shape.npy", {"euler": np.zeros((3, 2)), "trans": np.zeros((3, 3))}, r"shape.npy: key 'euler' has shape \[3, 2\]"),
            ("frames.npy", {"euler": np.zeros((3, 3)), "trans": np.zeros((4, 3))}, r"frames.npy: 'euler' has 3 frames and 'trans' 4"),
            ("nan.npy", {"euler": np.full((2, 3), np.nan), "trans": np.zeros((2, 3))}, r"nan.npy: the pose track holds NaN"),
            ("list.npy", [1, 2], r"list.npy: array of shape \[2\], expected \[L, 6\]"),
            ("five.npy", np.zeros((3, 5)), r"five.npy: array of shape \[3, 5\], expected \[L, 6\]"),
        ]
        for name, obj, pattern in cases:
            path = self.save(name, obj, allow_pickle=True)
            with self.assertRaisesRegex(pose_track.PoseTrackError, pattern):
                pose_track.load_pose_track(path)
        bad = os.path.join(self.d, "bad.npy")
        with open(bad, "wb") as f:
            f.write(b"not numpy")
        with self.assertRaisesRegex(pose_track.PoseTrackError, r"bad.npy: not a readable .npy file"):
            pose_track.load_pose_track(bad)
        with self.assertRaisesRegex(pose_track.PoseTrackError, r"missing.npy: file not found"):
            pose_track.load_pose_track(os.path.join(self.d, "missing.npy"))


if __name__ == "__main__":
    unittest.main()
