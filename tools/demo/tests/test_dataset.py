"""Dataset smoke test: --small generates aligned audio and targets."""
import json
import os
import tempfile
import unittest

import numpy as np

from tools.demo import make_dataset
from tools.reference import safetensors_io
from tools.demo import visemes

HERE = os.path.dirname(os.path.abspath(__file__))


class DatasetTests(unittest.TestCase):
    def test_small(self):
        with tempfile.TemporaryDirectory() as d:
            man = make_dataset.main(["--small", "--out", d])
            self.assertEqual(man["utterances"], 8)
            lines = [json.loads(x) for x in open(os.path.join(d, "utterances.jsonl"))]
            self.assertEqual(len(lines), 8)
            n_pbm = 0
            for name in man["shards"]:
                t, meta = safetensors_io.load_arrays(os.path.join(d, name))
                self.assertEqual(meta["exp_names"].split(","), man["exp_names"])
                ao, to = t["audio_offsets"], t["target_offsets"]
                self.assertEqual(ao[-1], len(t["audio"]))
                self.assertEqual(to[-1], len(t["targets"]))
                self.assertEqual(t["targets"].shape[1], len(man["exp_names"]))
                self.assertTrue(np.isfinite(t["targets"]).all())
                for u in range(len(ao) - 1):
                    ns = ao[u + 1] - ao[u]
                    self.assertEqual(to[u + 1] - to[u], ns // 640)
                    self.assertGreater(ns, 16000)
                    a = t["audio"][ao[u]:ao[u + 1]].astype(float)
                    self.assertGreater(np.abs(a).max(), 100)
                tg, vis = t["targets"], t["viseme"]
                pbm = vis == visemes.VISEME_IDS["PBM"]
                n_pbm += pbm.sum()
                # frames labelled bilabial have (nearly) closed jaws on average
                if pbm.any():
                    self.assertLess(tg[pbm, visemes.IDX["jaw_open"]].mean(), 0.15)
                sil = vis == 0
                self.assertLess(np.abs(tg[sil, visemes.IDX["jaw_open"]]).mean(), 0.1)
                self.assertEqual(man["exp_names"][-3:], ["head_pitch", "head_yaw", "head_roll"])
                self.assertGreater(tg[~sil, visemes.IDX["jaw_open"]].mean(), 0.1)
            self.assertGreater(n_pbm, 0)
            for u in lines:
                starts = [s for _, s in u["phonemes"]]
                self.assertEqual(starts, sorted(starts))
                self.assertLessEqual(starts[-1], u["samples"])
                self.assertGreater(len(starts), 5)
            # reproducible: same seed, same bytes
            with tempfile.TemporaryDirectory() as d2:
                make_dataset.main(["--small", "--out", d2])
                for name in man["shards"]:
                    a = open(os.path.join(d, name), "rb").read()
                    b = open(os.path.join(d2, name), "rb").read()
                    self.assertEqual(a, b)


if __name__ == "__main__":
    unittest.main()
