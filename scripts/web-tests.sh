#!/usr/bin/env bash
# Tests of the browser page, WHEP and the Janus fan-out (tests/web) against the avatard binary built from this
# checkout: Debian's headless chromium driven by chromium-driver (Selenium), aiortc WebRTC viewers, Debian's janus.
# Installs the test requirements (PyPI) and the Python client into .build/web-venv, reused while they are unchanged.
#
#   scripts/web-tests.sh [unittest args...]     e.g. scripts/web-tests.sh -k whep
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${AVATARD_BIN:-.build/debug/avatard}"
[ -x "$bin" ] || { echo "no avatard binary at $bin: run 'swift build --product avatard' first" >&2; exit 1; }
bin="$(realpath "$bin")"

venv=.build/web-venv
stamp="$venv/.requirements"
want="$(cat tests/web/requirements.txt clients/python/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> creating $venv (selenium, aiortc and the Python client from PyPI)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/web/requirements.txt ./clients/python
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall ./clients/python

cd tests/web
AVATARD_BIN="$bin" AVATARD_REQUIRE_DAEMON=1 AVATARD_REQUIRE_BROWSER=1 AVATARD_REQUIRE_JANUS=1 \
  "../../$venv/bin/python" -m unittest discover -s . -v "$@"
