"""convert.py mimictalk: the one-command MimicTalk bundle, its identity constants, styles, refusals and the fixture."""
import json
import os
import unittest

import numpy as np
import torch

from tools import convert, make_mimictalk_fixture as fixture
from tools.reference import face_model, person_identity, pose_track, safetensors_io, wav_audio
from tools.tests._common import REPO, quiet, tempdir

FIXTURE = os.path.join(REPO, "Tests", "Fixtures", "mimictalk")


def run_cli(*argv):
    with quiet() as err:
        try:
            rc = convert.main(list(argv))
        except SystemExit as e:  # argparse refusals
            rc = e.code
    return rc, err.getvalue()


class Shared:
    """The fixture's inputs and one conversion of them, made once for the module."""
    dir = None

    @classmethod
    def get(cls):
        if cls.dir is None:
            import tempfile
            cls._tmp = tempfile.TemporaryDirectory()
            cls.dir = cls._tmp.name
            cls.inputs = os.path.join(cls.dir, "inputs")
            cls.bundle = os.path.join(cls.dir, "bundle")
            with quiet():
                fixture.main(["--out", cls.bundle, "--keep-inputs", cls.inputs, "--quiet"])
            cls.argv = fixture.write_inputs(os.path.join(cls.dir, "inputs2"))
        return cls


class FixtureTests(unittest.TestCase):
    def test_fixture_regenerates_byte_for_byte(self):
        s = Shared.get()
        self.assertEqual(sorted(os.listdir(s.bundle)), sorted(os.listdir(FIXTURE)))
        for name in sorted(os.listdir(FIXTURE)):
            with open(os.path.join(FIXTURE, name), "rb") as a, open(os.path.join(s.bundle, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), f"{name} differs from a fresh `python3 -m tools.make_mimictalk_fixture`")
        size = sum(os.path.getsize(os.path.join(FIXTURE, n)) for n in os.listdir(FIXTURE))
        self.assertLess(size, 3e6)


class RoundTripTests(unittest.TestCase):
    def setUp(self):
        self.s = Shared.get()
        with open(os.path.join(self.s.bundle, "manifest.json")) as f:
            self.m = json.load(f)

    def test_manifest_roles_and_tensor_shapes(self):
        m = self.m
        self.assertEqual([m[r]["kind"] for r in ("audio_frontend", "motion_model", "face_model", "renderer", "identity")],
                         ["hubert", "ics_a2m", "bfm09_front", "mimictalk_renderer", "mimictalk_person"])
        self.assertEqual(m["video"], {"width": 64, "height": 64, "fps": 25})
        self.assertEqual(m["styles"], [{"name": "calm", "file": "styles.safetensors", "motion_tensor": "calm.exp",
                                        "audio_tensor": "calm.audio"}])
        self.assertEqual((m["default_style"], len(m["motion_names"])), ("calm", 64))
        for role in ("audio_frontend", "motion_model", "face_model", "renderer", "identity"):
            arrays = {}
            for w in m[role]["weights"]:
                arrays.update(safetensors_io.load_arrays(os.path.join(self.s.bundle, w))[0])
            self.assertEqual({k: list(v.shape) for k, v in arrays.items()}, m[role]["tensors"], role)
        cfg = m["identity"]["config"]
        self.assertEqual((cfg["pose"], cfg["camera_smoothing_frames"], cfg["ref_pose_source"]),
                         ("track", 7, "pose track frame 0"))

    def test_identity_tensors_come_from_the_inputs(self):
        ident, _ = safetensors_io.load_arrays(os.path.join(self.s.bundle, "identity.safetensors"))
        ckpt = torch.load(os.path.join(self.s.inputs, "person", "model_ckpt_steps_10000.ckpt"))
        for key in ("gt_img", "id", "src_kp"):
            np.testing.assert_array_equal(ident[key], ckpt["person_ds"][key].numpy())
        seg = fixture.segmentation(64)
        np.testing.assert_array_equal(ident["segmap"], seg[None].astype(np.float32))
        euler, trans = pose_track.load_pose_track(os.path.join(self.s.inputs, "pose_track.npy"))
        np.testing.assert_array_equal(ident["pose_euler"], euler.astype(np.float32))
        np.testing.assert_array_equal(ident["pose_trans"], trans.astype(np.float32))
        np.testing.assert_array_equal(ident["ref_euler"], euler[0].astype(np.float32))
        img = person_identity.reference_uint8(ident["gt_img"])
        np.testing.assert_array_equal(ident["bg_img"], person_identity.unit_range(person_identity.knn_background(img, seg)))
        for key in ("ref_torso_img", "bg_img"):
            self.assertEqual(ident[key].shape, (1, 3, 64, 64))
            self.assertTrue(((ident[key] >= -1) & (ident[key] <= 1)).all())
        # Columns without neck or clothes hold no torso: black (-1), head included.
        torso = ident["ref_torso_img"][0]
        empty = (seg[2] + seg[4]).sum(0) == 0
        self.assertTrue(empty.any())
        self.assertTrue((torso[:, :, empty] == -1).all())

    def test_components_equal_the_building_blocks(self):
        d = tempdir(self)
        i = self.s.inputs
        self.assertEqual(run_cli("a2m", "--checkpoint", os.path.join(i, "a2m", "model_ckpt_steps_1000.ckpt"),
                                 "--hubert", os.path.join(i, "hubert"), "--out", os.path.join(d, "m"))[0], 0)
        self.assertEqual(run_cli("person", "--checkpoint", os.path.join(i, "person"), "--out", os.path.join(d, "p"))[0], 0)
        self.assertEqual(run_cli("face-model", "--bfm-dir", os.path.join(i, "BFM"), "--upstream",
                                 os.path.join(i, "upstream"), "--out", os.path.join(d, "f"))[0], 0)
        for sub, name in (("m", "a2m"), ("m", "hubert"), ("p", "renderer"), ("f", "face_model")):
            with open(os.path.join(d, sub, name + ".safetensors"), "rb") as a, \
                    open(os.path.join(self.s.bundle, name + ".safetensors"), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        with open(os.path.join(d, "f", face_model.FRAGMENT)) as f:
            self.assertEqual(json.load(f)["face_model"], self.m["face_model"])

    def test_style_clip(self):
        styles, _ = safetensors_io.load_arrays(os.path.join(self.s.bundle, "styles.safetensors"))
        np.testing.assert_array_equal(styles["calm.exp"], np.load(os.path.join(self.s.inputs, "calm_exp.npy")))
        audio = styles["calm.audio"]
        self.assertEqual((audio.dtype, audio.shape), (np.float32, (25 * 640,)))
        x, rate = wav_audio.read_wav(os.path.join(self.s.inputs, "calm.wav"))
        self.assertEqual((rate, x.shape[1]), (22050, 2))
        # Channel 0 resampled: a 180 Hz tone keeps its shape (compare with linear interpolation of channel 0).
        t16 = np.arange(len(audio)) / 16000
        lin = np.interp(t16, np.arange(len(x)) / rate, x[:, 0])
        self.assertLess(np.abs(audio[100:-100] - lin[100:-100]).max(), 0.01)


class IdentityConventionTests(unittest.TestCase):
    def test_png_round_trip_every_filter(self):
        rng = np.random.default_rng(3)
        img = rng.integers(0, 256, (9, 7, 3)).astype(np.uint8)
        path = os.path.join(tempdir(self), "x.png")
        person_identity.write_png(path, img, filters=(0, 1, 2, 3, 4))
        np.testing.assert_array_equal(person_identity.read_png(path), img)

    def test_blur_is_opencv_gaussian_5x5_sigma_4_reflect101(self):
        from scipy.ndimage import correlate
        img = np.random.default_rng(5).integers(0, 256, (11, 9, 3)).astype(np.uint8)
        k = np.exp(-((np.arange(5) - 2.0) ** 2) / 32)
        k2 = np.outer(k, k) / k.sum() ** 2
        want = np.stack([correlate(img[..., c].astype(np.float64), k2, mode="mirror") for c in range(3)], -1)
        got = person_identity.gaussian_blur_5(img).astype(np.float64)
        self.assertLessEqual(np.abs(got - want).max(), 0.5 + 1e-9)   # rounded to the nearest integer

    def test_knn_background_against_brute_force(self):
        size = 24
        seg = np.zeros((6, size, size), np.uint8)
        seg[0] = 1
        seg[0, 8:20, 9:15], seg[3, 8:20, 9:15] = 0, 1
        img = np.random.default_rng(4).integers(0, 256, (size, size, 3)).astype(np.uint8)
        bg = person_identity.knn_background(img, seg)
        yx = np.argwhere(np.ones((size, size)))
        person = np.argwhere(seg[0] == 0)
        dist = np.sqrt(((yx[:, None] - person[None]) ** 2).sum(-1)).min(1).reshape(size, size)
        sure = dist > 10
        np.testing.assert_array_equal(bg[sure], img[sure])
        sure_yx = np.argwhere(sure)
        for y, x in np.argwhere(~sure):
            d = np.sqrt(((sure_yx - [y, x]) ** 2).sum(-1))
            candidates = {tuple(img[a, b]) for a, b in sure_yx[d == d.min()]}
            self.assertIn(tuple(bg[y, x]), candidates)

    def test_inpaint_torso_by_hand(self):
        # 64 rows x 4 columns: head rows 0-39 (0-43 in columns 2-3); neck (body skin) in column 1, rows 40-43;
        # clothes rows 44-63 in columns 1-3; column 0 is background below the head.
        seg = np.zeros((6, 64, 4), np.uint8)
        seg[3, :40] = 1
        seg[3, 40:44, 2:] = 1                              # the head reaches the clothes in columns 2-3
        seg[2, 40:44, 1] = 1
        seg[4, 44:, 1:] = 1
        seg[0] = 1 - seg[2] - seg[3] - seg[4]
        img = np.full((64, 4, 3), 200, np.uint8)
        img[44] = 100                                      # top row of the clothes
        out = person_identity.inpaint_torso(img, seg)
        self.assertTrue((out[:, 0] == 0).all())            # head and background only: black
        # Torso: the clothes' top (row 44) is under the head in columns 2-3: rows 44, 43, …, 36 get 100·0.98^k.
        for k in range(9):
            self.assertEqual(out[44 - k, 3, 0], int(100 * 0.98 ** k), k)
        # Neck (dilated 3 rows: 37-46 in column 1) tops out at row 37 under the head, pushed down by
        # min(10 - 1, 4) = 4 to row 41 (colour 200), painted up 53 rows (41 … 0, then wrapping to rows 63 … 53),
        # and blurred there.
        before = img.copy()
        before[seg[3].astype(bool)] = 0
        for k in range(9):
            before[44 - k, 2:] = int(100 * 0.98 ** k)
        rows = [(41 - k) % 64 for k in range(53)]
        for k, r in enumerate(rows):
            before[r, 1] = int(200 * 0.98 ** k)
        blurred = person_identity.gaussian_blur_5(before)
        np.testing.assert_array_equal(out[rows, 1], blurred[rows, 1])
        self.assertEqual(out[44, 1, 0], 100)               # dilated neck row, not painted: kept as is
        self.assertEqual(out[50, 2, 0], 200)               # clothes kept as they are
        small = np.zeros((6, 20, 4), np.uint8)
        small[3, :10], small[2, 10:, 1] = 1, 1
        small[0] = 1 - small[2] - small[3]
        with self.assertRaises(person_identity.IdentityError):
            person_identity.inpaint_torso(np.zeros((20, 4, 3), np.uint8), small)


class RefusalTests(unittest.TestCase):
    def setUp(self):
        self.s = Shared.get()
        self.out = os.path.join(tempdir(self), "b")

    def argv(self, **replace):
        argv = list(self.s.argv)
        for switch, value in replace.items():
            flag = "--" + switch.replace("_", "-")
            if flag in argv:
                k = argv.index(flag)
                if value is None:
                    del argv[k:k + 2]
                else:
                    argv[k + 1] = value
            elif value is not None:
                argv += [flag, value]
        return argv + ["--out", self.out]

    def refused(self, argv, *needles):
        rc, err = run_cli(*argv)
        self.assertEqual(rc, 2, err)
        for n in needles:
            self.assertIn(n, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "manifest.json")))
        return err

    def test_missing_files(self):
        self.refused(self.argv(segmap="/nonexistent/seg.png"), "/nonexistent/seg.png: file not found")
        self.refused(self.argv(person="/nonexistent/person"), "/nonexistent/person")
        self.refused(self.argv(pose="/nonexistent/track.npy"), "/nonexistent/track.npy: file not found")

    def test_wrong_shapes(self):
        d = tempdir(self)
        exp = os.path.join(d, "exp.npy")
        np.save(exp, np.zeros((25, 63), np.float32))
        wav = os.path.join(self.s.dir, "inputs2", "calm.wav")
        self.refused(self.argv(style=f"calm={exp},{wav}"), exp, "[25, 63]", "expected [T, 64]")
        np.save(exp, np.zeros((40, 64), np.float32))
        self.refused(self.argv(style=f"calm={exp},{wav}"), wav, "16000 samples", "40 frames", "25600 ± 640")
        track = os.path.join(d, "track.npy")
        np.save(track, {"euler": np.zeros((5, 2)), "trans": np.zeros((5, 3))}, allow_pickle=True)
        self.refused(self.argv(pose=track), track, "'euler' has shape [5, 2]", "expected [L, 3]")
        seg = os.path.join(d, "seg.npy")
        np.save(seg, np.zeros((6, 32, 32), np.float32))
        self.refused(self.argv(segmap=seg), seg, "not one-hot")
        one_hot = np.zeros((6, 32, 32), np.float32)
        one_hot[0] = 1
        np.save(seg, one_hot)
        self.refused(self.argv(segmap=seg), seg, "32x32 px, expected 64x64")

    def test_bad_segmap_png(self):
        d = tempdir(self)
        img = person_identity.encode_segmap(fixture.segmentation(64))
        img[10, 20] = (12, 34, 56)
        path = os.path.join(d, "seg.png")
        person_identity.write_png(path, img)
        self.refused(self.argv(segmap=path), path, "row 10, column 20: (12, 34, 56)", "hair (255, 255, 0)")
        with open(path, "wb") as f:
            f.write(b"GIF89a not a png")
        self.refused(self.argv(segmap=path), path, "not a PNG")
        self.refused(self.argv(segmap=os.path.join(d, "seg.jpg")), "segmaps/*.png")

    def test_pickle_that_runs_code_in_the_pose_track(self):
        d = tempdir(self)
        marker = os.path.join(d, "executed")

        class Evil:
            def __reduce__(self):
                return os.system, (f"touch {marker}",)

        track = os.path.join(d, "track.npy")
        np.save(track, np.array([{"euler": Evil()}], dtype=object), allow_pickle=True)
        self.refused(self.argv(pose=track), track, "refusing to unpickle global", "system")
        self.assertFalse(os.path.exists(marker))

    def test_motion_model_must_predict_the_face_models_expression(self):
        from tools import synth_checkpoint
        from tools.reference.a2m import A2MConfig
        ckpt = os.path.join(tempdir(self), "model_ckpt_steps_7.ckpt")
        synth_checkpoint.write_a2m(ckpt, A2MConfig.tiny(audio_dim=24), seed=2)   # motion dim 8
        self.refused(self.argv(a2m=ckpt), ckpt, "predicts 8 motion dims (to_pred.weight shape[0])",
                     "64 expression coefficients")

    def test_switches(self):
        rc, err = run_cli(*self.argv(), "--no-such-switch")
        self.assertEqual(rc, 2)
        self.assertIn("unrecognized arguments: --no-such-switch", err)
        self.refused(self.argv(default_style="loud"), "--default-style 'loud' is not among the --style names (calm)")
        self.refused(self.argv(pose=None, pose_static="0,0,0,0,0", ref_pose=None), "--pose-static '0,0,0,0,0'",
                     "expected 6")
        self.refused(self.argv(pose=None, ref_pose="0,0,0,0,0,0"), "--ref-pose goes with --pose")
        self.refused(self.argv(style="calm"), "--style 'calm': expected NAME=EXP.npy,AUDIO.wav")
        self.refused(self.argv(name="my avatar"), "--name 'my avatar'", "letters, digits")

    def test_static_pose_bundle(self):
        rc, err = run_cli(*self.argv(pose=None, pose_static="0.1,-0.2,0.05,0.01,0.02,0.3", style=None))
        self.assertEqual(rc, 0, err)
        with open(os.path.join(self.out, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual(m["identity"]["config"]["pose"], "static")
        self.assertNotIn("styles", m)
        ident, _ = safetensors_io.load_arrays(os.path.join(self.out, "identity.safetensors"))
        self.assertNotIn("pose_euler", ident)
        np.testing.assert_array_equal(ident["ref_euler"], np.float32([0.1, -0.2, 0.05]))
        np.testing.assert_array_equal(ident["ref_trans"], np.float32([0.01, 0.02, 0.3]))


if __name__ == "__main__":
    unittest.main()
