"""Shared helpers for the tools tests (plain unittest; run: /usr/bin/python3 -m unittest discover -s tools/tests)."""
import contextlib
import io
import os
import tempfile

import torch

torch.set_num_threads(2)
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TOOLS)
FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "motion")


def rel_max(a, b):
    """max |a - b| / max |b|."""
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30))


@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stderr(io.StringIO()) as err:
        yield err


def tempdir(test):
    d = tempfile.TemporaryDirectory()
    test.addCleanup(d.cleanup)
    return d.name
