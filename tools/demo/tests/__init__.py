"""Tests of tools/demo (run from the repository root: /usr/bin/python3 -m unittest discover -s tools/demo/tests)."""
