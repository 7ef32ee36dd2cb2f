"""The demo motion golden (Tests/Fixtures/demo/motion_golden.safetensors, read by the Swift DemoMotionGoldenTests)
was made from the bundle that ships: a change to Avatars/demo's model, styles or manifest needs a new golden
(`/usr/bin/python3 -m tools.demo.make_motion_golden`)."""
import unittest

from tools.demo import make_motion_golden
from tools.reference import safetensors_io


class MotionGoldenTests(unittest.TestCase):
    def test_golden_matches_the_shipped_bundle(self):
        tensors, meta = safetensors_io.load_arrays(make_motion_golden.OUT)
        self.assertEqual(meta["bundle_sha256"], make_motion_golden.bundle_digest(make_motion_golden.BUNDLE),
                         "Avatars/demo changed: regenerate the golden with tools.demo.make_motion_golden")
        F_ = tensors["stream"].shape[0]
        self.assertEqual(tensors["full"].shape, (F_ + 1, tensors["stream"].shape[1]))
        self.assertEqual(len(tensors["wave"]), F_ * 640 + 80)
        self.assertEqual(meta["context"], "audio")


if __name__ == "__main__":
    unittest.main()
