"""convert.py mimictalk --segment-model: the reference frame segmented with MediaPipe as upstream's inference does.

The post-processing (category mask → one-hot → identity constants) and the refusals run everywhere. The tests that
run MediaPipe itself need the optional `mediapipe` package and are skipped without it (CI's Debian has none); they
write a tiny segmentation model at test time (tools/tests/tflite_segmenter.py) and run the real ImageSegmenter.
"""
import importlib.util
import json
import os
import sys
import unittest
from unittest import mock

import numpy as np

from tools import make_mimictalk_fixture as fixture
from tools.reference import person_identity, safetensors_io
from tools.tests import tflite_segmenter
from tools.tests._common import REPO, tempdir
from tools.tests.test_mimictalk_convert import Shared, run_cli

FIXTURE = os.path.join(REPO, "Tests", "Fixtures", "mimictalk")
HAVE_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
IDENTITY_IMAGES = ("segmap", "bg_img", "ref_torso_img")


def fixture_identity():
    ident, _ = safetensors_io.load_arrays(os.path.join(FIXTURE, "identity.safetensors"))
    return ident


def segment_argv(model, out):
    argv = list(Shared.get().argv)
    k = argv.index("--segmap")
    return argv[:k] + ["--segment-model", model] + argv[k + 2:] + ["--out", out]


class CategoryMaskTests(unittest.TestCase):
    """The part after MediaPipe, on masks built here."""

    def test_one_hot_as_scatter_np(self):
        labels = np.argmax(fixture.segmentation(64), 0).astype(np.uint8)
        for mask in (labels, labels[:, :, None]):      # MediaPipe returns [S, S] or [S, S, 1]
            onehot = person_identity.category_mask_to_onehot(mask)
            self.assertEqual(onehot.dtype, np.uint8)
            np.testing.assert_array_equal(onehot, fixture.segmentation(64))

    def test_into_the_identity_constants(self):
        # The fixture bundle was converted from the PNG of fixture.segmentation(64): the same classes given as a
        # category mask give the same constants.
        ident = fixture_identity()
        labels = np.argmax(fixture.segmentation(64), 0).astype(np.uint8)
        images = person_identity.identity_images(ident["gt_img"], person_identity.category_mask_to_onehot(labels))
        for name in IDENTITY_IMAGES:
            np.testing.assert_array_equal(images[name], ident[name], name)

    def test_refusals(self):
        with self.assertRaisesRegex(person_identity.IdentityError, r"m\.tflite: the model gives class 7 at row 2, "
                                    r"column 3; expected the 6 classes .*0 background, 1 hair"):
            mask = np.zeros((8, 8), np.uint8)
            mask[2, 3] = 7
            person_identity.category_mask_to_onehot(mask, "m.tflite")
        with self.assertRaisesRegex(person_identity.IdentityError, r"category mask of shape \[8, 8\] \(float32\)"):
            person_identity.category_mask_to_onehot(np.zeros((8, 8), np.float32))


class SwitchTests(unittest.TestCase):
    def setUp(self):
        self.out = os.path.join(tempdir(self), "b")
        self.model = os.path.join(tempdir(self), "selfie_multiclass_256x256.tflite")
        with open(self.model, "wb") as f:
            f.write(b"not read: the package is missing")

    def refused(self, argv, *needles):
        rc, err = run_cli(*argv)
        self.assertEqual(rc, 2, err)
        for n in needles:
            self.assertIn(n, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "manifest.json")))

    def test_without_mediapipe_the_switch_names_the_package(self):
        with mock.patch.dict(sys.modules, {"mediapipe": None}):   # import mediapipe → ImportError
            self.refused(segment_argv(self.model, self.out), "--segment-model needs the Python package 'mediapipe'",
                         "pip install mediapipe", "or pass --segmap")

    def test_missing_model_and_exclusive_switches(self):
        self.refused(segment_argv("/nonexistent/seg.tflite", self.out), "/nonexistent/seg.tflite: file not found")
        argv = segment_argv(self.model, self.out)
        self.refused(argv + ["--segmap", "seg.png"], "not allowed with argument")
        k = argv.index("--segment-model")
        self.refused(argv[:k] + argv[k + 2:], "one of the arguments --segmap --segment-model is required")


@unittest.skipUnless(HAVE_MEDIAPIPE, "the optional mediapipe package is not installed")
class MediaPipeTests(unittest.TestCase):
    """MediaPipe's ImageSegmenter itself, on models written here."""

    def test_segments_upstreams_uint8_rgb_frame(self):
        # A colour classifier: each pixel's class is an argmax over a 1×1 convolution of its normalised RGB, so the
        # mask shows which image MediaPipe was given. gt_img sits 0.6 of a level above integers: upstream's
        # truncation and a rounding conversion give different images.
        rng = np.random.default_rng(5)
        weights, bias = rng.normal(size=(3, 6)), rng.normal(size=6) * 0.3
        model = os.path.join(tempdir(self), "colours.tflite")
        tflite_segmenter.write(model, 64, weights, bias)
        levels = rng.integers(0, 255, (1, 3, 64, 64))
        gt_img = ((levels + 0.6) / 127.5 - 1).astype(np.float32)
        onehot = person_identity.mediapipe_segmap(gt_img, model)

        img = person_identity.reference_uint8(gt_img)
        expected = np.argmax(tflite_segmenter.class_scores(img, weights, bias), -1)
        measured = np.argmax(onehot, 0)
        self.assertEqual(onehot.shape, (6, 64, 64))
        np.testing.assert_array_equal(onehot.sum(0), 1)
        print(f"\n  MediaPipe mask vs argmax of the model on the truncated frame: "
              f"{int((measured != expected).sum())} of 4096 pixels differ", file=sys.stderr)
        np.testing.assert_array_equal(measured, expected)
        # The test tells the conventions apart: rounding, or BGR order, would change these many pixels.
        rounded = np.clip(np.round((gt_img[0].transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8)
        self.assertGreater(int((np.argmax(tflite_segmenter.class_scores(rounded, weights, bias), -1) != expected).sum()), 0)
        self.assertGreater(int((np.argmax(tflite_segmenter.class_scores(img[..., ::-1], weights, bias), -1)
                                != expected).sum()), 100)

    def test_bundle_equals_the_segmap_route(self):
        # A model whose constant score map holds the fixture's classes (margin 4) and whose image term stays under
        # 0.5: MediaPipe returns the fixture's segmentation for the fixture person's frame, so the bundle's
        # identity constants must be those of the --segmap route (the checked-in fixture).
        rng = np.random.default_rng(6)
        weights = rng.uniform(-0.15, 0.15, (3, 6))
        prior = 4.0 * fixture.segmentation(64).transpose(1, 2, 0)
        model = os.path.join(tempdir(self), "selfie_multiclass_256x256.tflite")
        tflite_segmenter.write(model, 64, weights, np.zeros(6), prior)
        out = os.path.join(tempdir(self), "b")
        rc, err = run_cli(*segment_argv(model, out))
        self.assertEqual(rc, 0, err)
        self.assertIn("segmenting the reference frame with MediaPipe", err)
        ident, _ = safetensors_io.load_arrays(os.path.join(out, "identity.safetensors"))
        reference = fixture_identity()
        for name in IDENTITY_IMAGES:
            np.testing.assert_array_equal(ident[name], reference[name], name)
        with open(os.path.join(out, "manifest.json")) as f:
            seg = json.load(f)["identity"]["config"]["segmentation"]
        self.assertEqual(seg["mediapipe_model"], "selfie_multiclass_256x256.tflite")
        self.assertNotIn("file", seg)

    def test_a_model_mediapipe_refuses(self):
        model = os.path.join(tempdir(self), "broken.tflite")
        with open(model, "wb") as f:
            f.write(b"TFL3 but not a model")
        with self.assertRaisesRegex(person_identity.IdentityError, "broken.tflite: MediaPipe could not segment"):
            person_identity.mediapipe_segmap(np.zeros((1, 3, 8, 8), np.float32), model)


if __name__ == "__main__":
    unittest.main()
