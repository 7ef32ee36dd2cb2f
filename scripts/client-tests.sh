#!/usr/bin/env bash
# Tests of the Python client (clients/python) against the avatard binary built from this checkout.
# Installs the client and its test requirements (PyPI) into a virtual environment under .build/, reusing it
# while the requirements are unchanged; the client itself is reinstalled from the tree on every run.
#
#   scripts/client-tests.sh [unittest args...]     e.g. scripts/client-tests.sh -k interrupt
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${AVATARD_BIN:-.build/debug/avatard}"
[ -x "$bin" ] || { echo "no avatard binary at $bin: run 'swift build --product avatard' first" >&2; exit 1; }
bin="$(realpath "$bin")"

venv=.build/client-venv
stamp="$venv/.requirements"
want="$(cat clients/python/pyproject.toml clients/python/tests/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> creating $venv (avatard-client[pipecat] and the test requirements from PyPI)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r clients/python/tests/requirements.txt './clients/python[pipecat]'
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall ./clients/python

# The installed package is what is tested (not the source tree): run from the tests directory.
cd clients/python/tests
AVATARD_BIN="$bin" AVATARD_REQUIRE_DAEMON=1 \
  "../../../$venv/bin/python" -m unittest discover -s . "$@"
