import os
import pickle
import struct
import unittest
from collections import OrderedDict

import numpy as np
import torch

from tools.tests._common import tempdir
from tools.reference import restricted_load


class Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class RestrictedLoadTests(unittest.TestCase):
    def test_legacy_round_trip_with_views_parameters_and_plain_values(self):
        d = tempdir(self)
        base = torch.arange(24, dtype=torch.float32).view(4, 6)
        obj = {"state_dict": {"model": OrderedDict(a=base, b=base[1:, 2:].t(), c=torch.arange(3),
                                                   p=torch.nn.Parameter(torch.ones(2)),
                                                   h=torch.ones(3, dtype=torch.float16))},
               "epoch": 3, "best": np.float64(0.5), "groups": [{"betas": (0.9, 0.999), "amsgrad": False}]}
        path = os.path.join(d, "x.ckpt")
        torch.save(obj, path, _use_new_zipfile_serialization=False)
        got = restricted_load.load(path)
        sd = got["state_dict"]["model"]
        self.assertTrue(torch.equal(sd["a"], base))
        self.assertTrue(torch.equal(sd["b"], base[1:, 2:].t()))
        self.assertEqual(sd["c"].dtype, torch.int64)
        self.assertEqual(sd["h"].dtype, torch.float16)
        self.assertTrue(torch.equal(sd["p"], torch.ones(2)))
        self.assertEqual(got["epoch"], 3)
        self.assertEqual(float(got["best"]), 0.5)
        self.assertEqual(got["groups"][0]["betas"], (0.9, 0.999))

    def test_zip_format(self):
        d = tempdir(self)
        path = os.path.join(d, "pytorch_model.bin")
        t = torch.randn(5, 3)
        torch.save({"w": t, "v": t[:, 1]}, path)
        got = restricted_load.load(path)
        self.assertTrue(torch.equal(got["w"], t))
        self.assertTrue(torch.equal(got["v"], t[:, 1]))

    def _legacy_file_with(self, payload, path):
        """A legacy-format file whose object pickle is `payload` (a raw pickle byte string)."""
        with open(path, "wb") as f:
            pickle.dump(restricted_load.LEGACY_MAGIC, f, protocol=2)
            pickle.dump(restricted_load.LEGACY_PROTOCOL, f, protocol=2)
            pickle.dump({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
            f.write(payload)
            pickle.dump([], f, protocol=2)

    def test_refuses_code_execution_in_legacy_checkpoint(self):
        d = tempdir(self)
        marker = os.path.join(d, "pwned")
        path = os.path.join(d, "evil.ckpt")
        self._legacy_file_with(pickle.dumps({"state_dict": {"model": Evil(marker)}}, protocol=2), path)
        with self.assertRaises(restricted_load.UnsafePickleError) as ctx:
            restricted_load.load(path)
        self.assertIn("system", str(ctx.exception))
        self.assertFalse(os.path.exists(marker))

    def test_refuses_code_execution_in_zip_checkpoint(self):
        d = tempdir(self)
        marker = os.path.join(d, "pwned")
        path = os.path.join(d, "evil.bin")
        torch.save({"x": Evil(marker)}, path)  # torch.save pickles the reduce, it does not run it
        with self.assertRaises(restricted_load.UnsafePickleError):
            restricted_load.load(path)
        self.assertFalse(os.path.exists(marker))

    def test_refuses_arbitrary_classes_and_object_dtypes(self):
        d = tempdir(self)
        path = os.path.join(d, "cls.ckpt")
        self._legacy_file_with(pickle.dumps({"x": OrderedDict, "y": unittest.TestCase}, protocol=2), path)
        with self.assertRaises(restricted_load.UnsafePickleError) as ctx:
            restricted_load.load(path)
        self.assertIn("unittest", str(ctx.exception))
        path2 = os.path.join(d, "obj.ckpt")
        self._legacy_file_with(pickle.dumps({"x": np.array([None], dtype=object)[0:1]}, protocol=2), path2)
        with self.assertRaises(restricted_load.UnsafePickleError):
            restricted_load.load(path2)

    def test_rejects_non_checkpoints_and_truncation(self):
        d = tempdir(self)
        path = os.path.join(d, "plain.pkl")
        with open(path, "wb") as f:
            pickle.dump({"a": 1}, f, protocol=2)
        with self.assertRaises(ValueError):
            restricted_load.load(path)
        good = os.path.join(d, "good.ckpt")
        torch.save({"a": torch.randn(100)}, good, _use_new_zipfile_serialization=False)
        with open(good, "rb") as f:
            data = f.read()
        with open(good, "wb") as f:
            f.write(data[:-40])
        with self.assertRaises(ValueError):
            restricted_load.load(good)


if __name__ == "__main__":
    unittest.main()
