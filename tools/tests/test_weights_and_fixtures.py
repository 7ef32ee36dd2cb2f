import contextlib
import json
import os
import tempfile
import unittest

import numpy as np
import torch

from tools.tests._common import FIXTURES, tempdir
from tools.reference import safetensors_io, weights as W


class WeightSchemeTests(unittest.TestCase):
    def test_fnv_and_splitmix_reference_values(self):
        self.assertEqual(W.fnv1a64(""), 0xCBF29CE484222325)
        self.assertEqual(W.fnv1a64("a"), 0xAF63DC4C8601EC8C)
        # SplitMix64 with state = key: first output for key 0 is the published 0xE220A8397B1DCDAF.
        key = 0
        z = (key + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        z ^= z >> 31
        self.assertEqual(z, 0xE220A8397B1DCDAF)

    def test_uniform_matches_scalar_definition(self):
        name = "layers.3.attn.qkv.weight"
        vec = W.uniform(name, 5000)
        key = W.fnv1a64(name)
        for i in (0, 1, 4999):
            z = (key + (i + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
            z ^= z >> 31
            self.assertEqual(vec[i], 2.0 * (((z >> 40) + 0.5) / 16777216.0) - 1.0)
        self.assertLess(abs(vec.mean()), 0.03)
        self.assertTrue((np.abs(vec) < 1).all())
        t = W.generate(W.entry(name, [50, 100], 0.5, 2.0))
        self.assertEqual(t.dtype, torch.float32)
        self.assertTrue(bool(((t > 1.5) & (t < 2.5)).all()))

    def test_safetensors_round_trip(self):
        d = tempdir(self)
        p = os.path.join(d, "x.safetensors")
        tensors = {"b": torch.randn(3, 4), "a": torch.arange(5).float(), "e": torch.zeros(0, 2)}
        safetensors_io.write(p, tensors, metadata={"k": "v"})
        got, meta = safetensors_io.read(p, with_metadata=True)
        self.assertEqual(meta, {"k": "v"})
        for k in tensors:
            self.assertTrue(torch.equal(got[k], tensors[k]))
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        self.assertEqual((8 + n) % 8, 0)

    def test_safetensors_arrays_keep_dtypes_and_refuse_bad_files(self):
        d = tempdir(self)
        p = os.path.join(d, "y.safetensors")
        arrays = {"f64": np.linspace(0, 1, 7), "i32": np.arange(-3, 3, dtype=np.int32).reshape(2, 3),
                  "u8": np.array([0, 255], np.uint8), "f16": np.array([1.5, -2], np.float16),
                  "i64": np.array([[1 << 40]], np.int64)}
        safetensors_io.save_arrays(p, arrays, {"m": 1})
        got, meta = safetensors_io.load_arrays(p)
        self.assertEqual(meta, {"m": "1"})
        for k, v in arrays.items():
            self.assertEqual(got[k].dtype, v.dtype, k)
            np.testing.assert_array_equal(got[k], v)
        with open(p, "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[:8], "little")
        cases = {"short": raw[:5], "header length": (10 ** 9).to_bytes(8, "little") + raw[8:],
                 "data offsets": raw[:-8], "not JSON": raw[:8] + b"{" * n + raw[8 + n:]}
        for expect, data in cases.items():
            bad = os.path.join(d, "bad.safetensors")
            with open(bad, "wb") as f:
                f.write(data)
            with self.assertRaises(ValueError) as ctx:
                safetensors_io.load_arrays(bad)
            self.assertIn("bad.safetensors", str(ctx.exception))
            self.assertIn(expect, str(ctx.exception).replace("too short", "short"))


class FixtureTests(unittest.TestCase):
    """The committed fixtures are what the current reference produces (tiny models regenerated here)."""

    @classmethod
    def setUpClass(cls):
        from tools import make_motion_fixtures
        cls._dir = tempfile.TemporaryDirectory()
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            make_motion_fixtures.main(["--tiny-only", "--out", cls._dir.name])
        with open(os.path.join(FIXTURES, "fixtures.json")) as f:
            cls.committed = json.load(f)
        with open(os.path.join(cls._dir.name, "fixtures.json")) as f:
            cls.fresh = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def test_tiny_fixture_files_are_current(self):
        for name in ("hubert_tiny", "hubert_tiny_postln", "log_mel", "a2m_tiny", "a2m_tiny_aux"):
            fresh = safetensors_io.read(os.path.join(self._dir.name, name + ".safetensors"))
            committed = safetensors_io.read(os.path.join(FIXTURES, name + ".safetensors"))
            self.assertEqual(set(fresh), set(committed), name)
            for k in fresh:
                self.assertTrue(torch.equal(fresh[k], committed[k]), f"{name}:{k} differs; rerun python3 -m tools.make_motion_fixtures")
            self.assertEqual(self.fresh["models"][name]["recipe"], self.committed["models"][name]["recipe"])

    def test_full_size_entries_present_and_small(self):
        for name in ("a2m_full", "hubert_large"):
            self.assertTrue(name in self.committed["models"], f"{name} missing from fixtures.json")
        total = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in os.listdir(FIXTURES))
        self.assertLess(total, 400 * 1024)
        self.assertIn("streaming_vs_offline", self.committed)


if __name__ == "__main__":
    unittest.main()
