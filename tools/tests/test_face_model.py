"""Face-model conversion (tools/convert.py face-model) on synthetic BFM files in the official formats."""
import json
import os
import pickle
import shutil
import unittest

import numpy as np

from tools import convert, synth_bfm
from tools.reference import face_model, safetensors_io
from tools.tests._common import quiet, tempdir


def run_convert(bfm, up, out):
    with quiet() as err:
        code = convert.main(["face-model", "--bfm-dir", bfm, "--upstream", up, "--out", out, "--quiet"])
    return code, err.getvalue()


class FaceModelConversionTests(unittest.TestCase):
    def setUp(self):
        self.d = tempdir(self)
        self.bfm, self.up = os.path.join(self.d, "bfm"), os.path.join(self.d, "mimictalk")
        self.synth = synth_bfm.write(self.bfm, self.up, front=False, rows=7, cols=5, seed=3)

    def converted(self, out="out"):
        out = os.path.join(self.d, out)
        code, err = run_convert(self.bfm, self.up, out)
        self.assertEqual(code, 0, err)
        tensors, meta = safetensors_io.load_arrays(os.path.join(out, face_model.WEIGHTS))
        with open(os.path.join(out, face_model.FRAGMENT)) as f:
            fragment = json.load(f)
        return tensors, meta, fragment

    def test_both_routes_give_the_same_model(self):
        raw, _, frag_raw = self.converted("raw")
        # BFM_model_front.mat computed vertex by vertex by the synthetic tool (an independent formulation).
        import scipy.io
        s = self.synth
        scipy.io.savemat(os.path.join(self.bfm, face_model.FRONT_FILE), s["front"])
        front, _, frag_front = self.converted("front")
        self.assertEqual(frag_raw["face_model"]["config"]["source"]["route"], "raw")
        self.assertEqual(frag_front["face_model"]["config"]["source"]["route"], "front")
        self.assertEqual(sorted(raw), sorted(front))
        for k in raw:
            self.assertEqual(raw[k].dtype, front[k].dtype, k)
            np.testing.assert_array_equal(raw[k], front[k], err_msg=k)

    def test_tensors_follow_upstream_conventions(self):
        t, meta, frag = self.converted()
        s = self.synth
        n = s["ncc"].shape[1]
        self.assertEqual(meta["format"], "avatard-face-model")
        self.assertEqual(len(meta["exp_names"].split(",")), 64)
        self.assertEqual(t["mean_shape"].shape, (n, 3))
        self.assertEqual(t["id_basis"].shape, (3 * n, 80))
        self.assertEqual(t["exp_basis"].shape, (3 * n, 64))
        # Re-centred: the float32 vertex mean is (close to) zero, and the grid shape survives the index maps.
        self.assertLess(np.abs(t["mean_shape"].astype(np.float64).mean(0)).max(), 1e-6)
        grid, _ = synth_bfm.grid_mesh(7, 5)
        np.testing.assert_allclose(t["mean_shape"], grid - grid.mean(0), atol=2e-6)
        # One basis entry by hand: front vertex 4, coordinate y, identity column 7.
        e = int(s["idx"][4, 0]) - 1
        b = int(s["trimIndex"][e, 0]) - 1
        by_hand = np.float32(s["shapePC"][3 * b + 1, 7] * s["shapeEV"][7, 0]) / np.float32(1e5)
        self.assertEqual(t["id_basis"][3 * 4 + 1, 7], by_hand)
        by_hand = np.float32(np.float64(s["exp_pc"][63, 3 * e + 2]) * s["std_exp"][63] / 1e5)
        self.assertEqual(t["exp_basis"][3 * 4 + 2, 63], by_hand)
        # Triangles 0-based; SECC drops the eye faces and keeps the order of the rest.
        np.testing.assert_array_equal(t["triangles"], s["tri"].astype(np.int64) - 1)
        eyes = np.sort(np.concatenate([s["left_eye"], s["right_eye"]]) - 1)
        np.testing.assert_array_equal(t["eye_faces"], eyes)
        keep = [i for i in range(len(t["triangles"])) if i not in set(eyes.tolist())]
        np.testing.assert_array_equal(t["secc_triangles"], t["triangles"][keep])
        # Keypoints: 0-based for SECC-side users; the torso path keeps the .mat values (upstream's off-by-one).
        np.testing.assert_array_equal(t["keypoints"], s["keypoints"][:, 0].astype(np.int64) - 1)
        np.testing.assert_array_equal(t["lm68_torso_vertices"], s["keypoints"][:, 0].astype(np.int64))
        np.testing.assert_array_equal(t["ncc"], s["ncc"].T)
        cfg = frag["face_model"]["config"]
        self.assertEqual((cfg["vertices"], cfg["triangles"], cfg["secc_triangles"]), (n, 48, 43))
        self.assertEqual(frag["face_model"]["tensors"]["id_basis"], [3 * n, 80])
        self.assertEqual(set(cfg["source"]["files"]), set(face_model.BFM_FILES) | set(face_model.UPSTREAM_FILES))

    def test_round_trip_through_the_loader(self):
        out = os.path.join(self.d, "rt")
        self.assertEqual(run_convert(self.bfm, self.up, out)[0], 0)
        loaded = face_model.load(os.path.join(out, face_model.WEIGHTS))
        again = os.path.join(self.d, "again.safetensors")
        safetensors_io.save_arrays(again, loaded, face_model.metadata())
        with open(again, "rb") as a, open(os.path.join(out, face_model.WEIGHTS), "rb") as b:
            self.assertEqual(a.read(), b.read())
        bad = os.path.join(self.d, "other.safetensors")
        safetensors_io.save_arrays(bad, loaded, {"format": "something-else"})
        with self.assertRaisesRegex(face_model.FaceModelError, "other.safetensors.*avatard-face-model"):
            face_model.load(bad)

    def refused(self, pattern):
        code, err = run_convert(self.bfm, self.up, os.path.join(self.d, "refused"))
        self.assertEqual(code, 2, err)
        self.assertRegex(err, pattern)
        self.assertFalse(os.path.exists(os.path.join(self.d, "refused", face_model.WEIGHTS)))

    def test_missing_files_are_named(self):
        for name in face_model.BFM_FILES:
            os.rename(os.path.join(self.bfm, name), os.path.join(self.d, "aside"))
            self.refused(rf"{name}: file not found")
            os.rename(os.path.join(self.d, "aside"), os.path.join(self.bfm, name))
        for name in face_model.UPSTREAM_FILES:
            path = os.path.join(self.up, "deep_3drecon", name)
            os.rename(path, os.path.join(self.d, "aside"))
            self.refused(rf"{name}: file not found")
            os.rename(os.path.join(self.d, "aside"), path)
        shutil.rmtree(os.path.join(self.up, "deep_3drecon"))
        self.refused(r"--upstream must be the MimicTalk checkout")

    def test_wrong_shapes_are_refused(self):
        import scipy.io
        s = self.synth
        mm = os.path.join(self.bfm, "01_MorphableModel.mat")
        scipy.io.savemat(mm, {"shapeMU": s["shapeMU"], "shapePC": s["shapePC"], "shapeEV": s["shapeEV"][:-1]})
        self.refused(r"01_MorphableModel.mat: key 'shapeEV' has shape \[198, 1\], expected \[199, 1\]")
        scipy.io.savemat(mm, {"shapeMU": s["shapeMU"], "shapePC": s["shapePC"][:, :60], "shapeEV": s["shapeEV"][:60]})
        self.refused(r"01_MorphableModel.mat: key 'shapePC' has shape \[\d+, 60\], expected \[3V, K\] with K >= 80")
        scipy.io.savemat(mm, {"shapePC": s["shapePC"], "shapeEV": s["shapeEV"]})
        self.refused(r"01_MorphableModel.mat: key 'shapeMU' is missing")
        scipy.io.savemat(mm, {"shapeMU": s["shapeMU"], "shapePC": s["shapePC"], "shapeEV": s["shapeEV"]})
        exp = os.path.join(self.bfm, "Exp_Pca.bin")
        with open(exp, "rb") as f:
            data = f.read()
        with open(exp, "wb") as f:
            f.write(data[:-4])
        self.refused(r"Exp_Pca.bin: \d+ bytes, expected \d+ for 79 bases over 47 vertices")
        with open(exp, "wb") as f:
            f.write(data)
        with open(os.path.join(self.bfm, "std_exp.txt"), "w") as f:
            f.write("1 2 3\n")
        self.refused(r"std_exp.txt: 3 values, expected 79")
        synth_bfm.write(self.bfm, self.up, seed=3)
        scipy.io.savemat(os.path.join(self.bfm, "BFM_front_idx.mat"), {"idx": s["idx"] + 100})
        self.refused(r"BFM_front_idx.mat: key 'idx' has values in \[\d+, \d+\], expected \[1, 47\]")
        synth_bfm.write(self.bfm, self.up, seed=3)
        scipy.io.savemat(os.path.join(self.bfm, "facemodel_info.mat"), {"tri": s["tri"], "keypoints": s["keypoints"][:60]})
        self.refused(r"facemodel_info.mat: key 'keypoints' has 60 entries, expected 68")
        synth_bfm.write(self.bfm, self.up, seed=3)
        np.save(os.path.join(self.up, "deep_3drecon", "ncc_code.npy"), s["ncc"][:, :-1])
        self.refused(r"ncc_code.npy: shape \[3, 34\] \(float32\), expected float \[3, 35\]")
        synth_bfm.write(self.bfm, self.up, seed=3)
        np.save(os.path.join(self.up, "deep_3drecon", "bfm_left_eye_faces.npy"), np.array([1, 49]))
        self.refused(r"bfm_left_eye_faces.npy: key 'faces' has values in \[1, 49\], expected \[1, 48\]")
        synth_bfm.write(self.bfm, self.up, seed=3)
        front = dict(s["front"], idBase=s["front"]["idBase"][:, :79])
        scipy.io.savemat(os.path.join(self.bfm, face_model.FRONT_FILE), front)
        self.refused(r"BFM_model_front.mat: key 'idBase' has shape \[105, 79\], expected \[105, 80\]")

    def test_unreadable_and_unsafe_inputs_are_refused(self):
        # A MATLAB v7.3 file: 116-byte text, 8-byte subsystem offset, version 0x0200, 'IM', then HDF5.
        header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + b"\0" * 8 + b"\x00\x02IM"
        with open(os.path.join(self.bfm, "BFM_exp_idx.mat"), "wb") as f:
            f.write(header + b"\x89HDF\r\n\x1a\n" + b"\0" * 600)
        self.refused(r"BFM_exp_idx.mat: MATLAB v7.3 \(HDF5\) files are not read; save it again with -v7")
        synth_bfm.write(self.bfm, self.up, seed=3)
        with open(os.path.join(self.bfm, "BFM_exp_idx.mat"), "rb") as f:
            data = f.read()
        with open(os.path.join(self.bfm, "BFM_exp_idx.mat"), "wb") as f:
            f.write(data[:200])   # truncated
        self.refused(r"BFM_exp_idx.mat: not a MATLAB .mat file \(OSError")
        synth_bfm.write(self.bfm, self.up, seed=3)
        path = os.path.join(self.up, "deep_3drecon", "ncc_code.npy")
        # An object array is a pickle: loading it could run code, so it is refused without unpickling.
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        self.refused(r"ncc_code.npy: not a plain .npy array")
        with open(path, "wb") as f:
            pickle.dump({"not": "npy"}, f)
        self.refused(r"ncc_code.npy: not a plain .npy array")

    def test_runs_as_a_module_of_the_tools_package(self):
        import subprocess
        import sys
        from tools.tests._common import REPO
        out = os.path.join(self.d, "cli")
        p = subprocess.run([sys.executable, "-m", "tools.convert", "face-model", "--bfm-dir", self.bfm, "--upstream",
                            self.up, "--out", out], cwd=REPO, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("building it from 01_MorphableModel.mat", p.stderr)
        self.assertTrue(os.path.isfile(os.path.join(out, face_model.WEIGHTS)))
        p = subprocess.run([sys.executable, "-m", "tools.convert", "face-model", "--bfm-dir", os.path.join(self.d, "nope"),
                            "--upstream", self.up, "--out", out], cwd=REPO, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope: --bfm-dir is not a directory", p.stderr)

    def test_unknown_switch_is_refused(self):
        with quiet() as err, self.assertRaises(SystemExit) as ctx:
            convert.main(["face-model", "--bfm-dir", self.bfm, "--upstream", self.up, "--out", self.d, "--bogus"])
        self.assertEqual(ctx.exception.code, 2)
        self.assertIn("--bogus", err.getvalue())


class FaceFixtureTests(unittest.TestCase):
    def test_committed_fixtures_are_reproducible(self):
        from tools import make_face_fixtures
        from tools.tests._common import REPO
        out = tempdir(self)
        with quiet():
            make_face_fixtures.main(["--out", out])
        committed = os.path.join(REPO, "Tests", "Fixtures", "face")
        names = sorted(n for n in os.listdir(out) if n.endswith(".safetensors"))
        self.assertEqual(names, ["camera.safetensors", "face_tiny.safetensors", "keypoints.safetensors", "secc.safetensors"])
        total = 0
        for name in names:
            with open(os.path.join(out, name), "rb") as a, open(os.path.join(committed, name), "rb") as b:
                fresh = a.read()
                self.assertEqual(fresh, b.read(), f"{name} differs; rerun /usr/bin/python3 -m tools.make_face_fixtures")
            total += len(fresh)
        self.assertLess(total, 1 << 20)


if __name__ == "__main__":
    unittest.main()
