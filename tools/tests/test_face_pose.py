"""Pose, EG3D camera and torso keypoints (tools/reference/face_pose.py) against hand-computed cases and second
formulations (scipy's rotations, torch's conv1d with flip padding as upstream writes it)."""
import math
import unittest

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from tools.reference import face_pose as fp


def random_poses(rng, n):
    euler = rng.normal(size=(n, 3)) * np.array([0.15, 0.3, 0.1])
    trans = rng.normal(size=(n, 3)) * np.array([0.05, 0.05, 0.2])
    return euler, trans


class RotationAndCameraTests(unittest.TestCase):
    def test_rotation_is_transposed_zyx(self):
        rng = np.random.default_rng(1)
        e = rng.normal(size=(7, 3))
        want = Rotation.from_euler("xyz", e).as_matrix().transpose(0, 2, 1)   # extrinsic x,y,z = Rz·Ry·Rx
        np.testing.assert_allclose(fp.rotation(e), want, atol=1e-12)

    def test_camera_by_hand(self):
        cam = fp.eg3d_camera([[0, 0, 0]], [[0, 0, 0]])[0]
        c2w = cam[:16].reshape(4, 4)
        np.testing.assert_allclose(c2w[:3, :3], np.diag([1.0, -1.0, -1.0]))
        np.testing.assert_allclose(c2w[:3, 3], [0, 0.006, 2.7 + 0.161])
        np.testing.assert_allclose(c2w[3], [0, 0, 0, 1])
        np.testing.assert_allclose(cam[16:], [4.264700, 0, 0.5, 0, 4.264700, 0.5, 0, 0, 1], atol=1e-6)
        # Yaw θ and a translation: R = Ry(θ)ᵀ, centre = −R·(t − 10·e_z)·0.27 + offset.
        th, t = 0.3, np.array([0.02, -0.03, 0.5])
        cam = fp.eg3d_camera([[0, th, 0]], [t])[0]
        c, s = math.cos(th), math.sin(th)
        r = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
        d = t - [0, 0, 10]
        np.testing.assert_allclose(cam[:16].reshape(4, 4)[:3, 3], -(r @ d) * 0.27 + [0, 0.006, 0.161], atol=1e-12)
        np.testing.assert_allclose(cam[:16].reshape(4, 4)[:3, :3], r @ np.diag([1, -1, -1]), atol=1e-12)

    def test_rotation_mean_matches_scipy(self):
        rng = np.random.default_rng(2)
        for n in (1, 2, 5, 7):
            r = Rotation.from_rotvec(rng.normal(size=(n, 3)) * 0.4 + [0.2, 2.9, 0.1])   # some near 180°
            np.testing.assert_allclose(fp.rotation_mean(r.as_matrix()), r.mean().as_matrix(), atol=1e-10)

    def test_sequence_smoothing_clips_the_window_at_both_ends(self):
        rng = np.random.default_rng(3)
        euler, trans = random_poses(rng, 9)
        raw = fp.eg3d_camera(euler, trans)
        smooth = fp.smooth_cameras(raw)
        for i in range(9):
            lo, hi = max(0, i - 3), min(9, i + 4)
            poses = raw[lo:hi, :16].reshape(-1, 4, 4)
            want = Rotation.from_matrix(poses[:, :3, :3]).mean().as_matrix()
            got = smooth[i, :16].reshape(4, 4)
            np.testing.assert_allclose(got[:3, :3], want, atol=1e-10)
            np.testing.assert_allclose(got[:3, 3], poses[:, :3, 3].mean(0), atol=1e-12)
            np.testing.assert_array_equal(got[3], [0, 0, 0, 1])
        np.testing.assert_array_equal(smooth[:, 16:], raw[:, 16:])
        self.assertGreater(np.abs(smooth - raw).max(), 1e-3)

    def test_ping_pong_index_and_pose_sequence(self):
        self.assertEqual([fp.mirror_index(i, 4) for i in range(13)], [0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3])
        self.assertEqual([fp.mirror_index(i, 1) for i in range(3)], [0, 0, 0])
        with self.assertRaises(ValueError):
            fp.mirror_index(0, 0)
        rng = np.random.default_rng(4)
        te, tt = random_poses(rng, 4)
        ref_e, ref_t = np.array([0.01, -0.02, 0.03]), np.array([0.1, 0.0, 0.4])
        e, t = fp.pose_sequence(10, ref_e, ref_t, te, tt)
        idx = [0, 1, 2, 3, 3, 2, 1, 0, 0, 1]
        np.testing.assert_allclose(e, te[idx] + (ref_e - te[0]))
        np.testing.assert_allclose(t[:, :2], tt[idx, :2] + (ref_t - tt[0])[:2])
        np.testing.assert_allclose(t[:, 2], ref_t[2])                       # z fixed to frame 0, then mapped
        np.testing.assert_allclose(e[0], ref_e)
        e2, t2 = fp.pose_sequence(10, ref_e, ref_t, te, tt, map_to_init=False)
        np.testing.assert_allclose(e2, te[idx])
        np.testing.assert_allclose(t2[:, 2], tt[0, 2])
        es, ts = fp.pose_sequence(3, ref_e, ref_t)
        np.testing.assert_array_equal(es, np.tile(ref_e, (3, 1)))
        # Continuing a session: frames 6 … 9 equal the same frames of one sequence from 0.
        e3, t3 = fp.pose_sequence(4, ref_e, ref_t, te, tt, start=6)
        np.testing.assert_allclose(e3, e[6:])
        np.testing.assert_allclose(t3, t[6:])

    def test_live_cameras_equal_one_long_smoothed_sequence(self):
        rng = np.random.default_rng(5)
        te, tt = random_poses(rng, 6)
        ref_e, ref_t = np.zeros(3), np.array([0, 0, 0.3])
        long = fp.utterance_cameras(40, ref_e, ref_t, te, tt)
        for start, count in ((0, 5), (2, 3), (5, 7), (17, 4)):
            np.testing.assert_allclose(fp.live_cameras(start, count, ref_e, ref_t, te, tt), long[start:start + count],
                                       atol=1e-12, err_msg=f"start {start}")
        # The utterance path clips at its end; a live session does not (it has look-ahead on the track).
        short = fp.utterance_cameras(10, ref_e, ref_t, te, tt)
        np.testing.assert_allclose(short[:7], long[:7], atol=1e-12)
        self.assertGreater(np.abs(short[9] - long[9]).max(), 1e-4)


class KeypointTests(unittest.TestCase):
    def model(self, rng, n=23):
        return {"mean_shape": rng.normal(size=(n, 3)) * 0.5, "id_basis": rng.normal(size=(3 * n, 80)) * 0.01,
                "exp_basis": rng.normal(size=(3 * n, 64)) * 0.02,
                "lm68_torso_vertices": rng.integers(1, n, size=68)}

    def test_frontal_projection_by_hand_with_the_off_by_one(self):
        rng = np.random.default_rng(6)
        m = self.model(rng)
        m["mean_shape"][:, 2] *= 0.2
        kp = fp.torso_keypoints(m, np.zeros(80), np.zeros((1, 64)), [[0, 0, 0]], [[0, 0, 0]])
        self.assertEqual(kp.shape, (1, 68, 2))
        for j in (0, 8, 16, 27, 67):
            x, y, z = m["mean_shape"][m["lm68_torso_vertices"][j]]   # the stored .mat value indexes directly
            zp = 10 - z
            want = np.clip([1015 * x / (112 * zp), -1015 * y / (112 * zp)], -1, 1)
            np.testing.assert_allclose(kp[0, j], want, atol=1e-12)

    def test_pose_id_and_expression_enter_as_upstream(self):
        rng = np.random.default_rng(7)
        m = self.model(rng)
        idc, exp = rng.normal(size=80), rng.normal(size=(5, 64))
        euler, trans = random_poses(rng, 5)
        kp = fp.torso_keypoints(m, idc, exp, euler, trans)
        n = len(m["mean_shape"])
        for t in (0, 4):
            v = (m["mean_shape"].reshape(-1) + m["id_basis"] @ idc + m["exp_basis"] @ exp[t]).reshape(n, 3)
            p = v[m["lm68_torso_vertices"]] @ Rotation.from_euler("xyz", euler[t]).as_matrix().T + trans[t]
            zp = 10 - p[:, 2]
            lm = np.stack([(1015 * p[:, 0] / zp + 112) / 224, (224 - (1015 * p[:, 1] / zp + 112)) / 224], -1)
            np.testing.assert_allclose(kp[t], np.clip((lm - 0.5) / 0.5, -1, 1), atol=1e-12)
        # Clamping happens: push one frame far sideways.
        far = fp.torso_keypoints(m, idc, exp[:1], euler[:1], [[5.0, 0, 0]])
        self.assertEqual(far[..., 0].max(), 1.0)

    def test_smoothing_matches_upstream_flip_padding_and_conv(self):
        rng = np.random.default_rng(8)
        for t in (3, 4, 7, 11):
            kp = rng.normal(size=(t, 68, 2))
            got = fp.smooth_keypoints(kp)
            # smooth_features_xd as upstream writes it: flip-pad 3 frames each side, conv1d with a box of 7.
            x = torch.from_numpy(kp.reshape(t, -1))
            x = torch.cat([torch.flip(x[0:3], dims=[0]), x, torch.flip(x[t - 3:t], dims=[0])], 0)
            y = F.conv1d(x.t().reshape(-1, 1, t + 6), torch.full((1, 1, 7), 1 / 7, dtype=torch.float64))
            np.testing.assert_allclose(got, y.reshape(-1, t).t().reshape(t, 68, 2).numpy(), atol=1e-12)
            # Ends by hand: frame 0 averages x2 x1 x0 x0 x1 x2 x3.
            np.testing.assert_allclose(got[0], (2 * kp[0] + 2 * kp[1] + 2 * kp[2] + kp[3 % t]) / 7 if t > 3 else
                                       (2 * kp[0] + 2 * kp[1] + 2 * kp[2] + kp[2]) / 7, atol=1e-12)
        const = np.ones((5, 68, 2)) * 0.3
        np.testing.assert_allclose(fp.smooth_keypoints(const), const)
        with self.assertRaisesRegex(ValueError, "at least 3 frames"):
            fp.smooth_keypoints(np.zeros((2, 68, 2)))


if __name__ == "__main__":
    unittest.main()
