#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for avatard (installs only what is missing), builds it, and then
# either runs the main job (`run`) or the whole test suite (`test`).
#
#   scripts/setup.sh run     install, build (release), run the demo end to end
#   scripts/setup.sh test    install, build, run every test (Swift, Python tools, shader check, Python client,
#                            browser page / WHEP / Janus)
#   scripts/setup.sh deps    install only
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
shift || true

packages=(
  pkgconf
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
  gstreamer1.0-nice libgstreamer-plugins-bad1.0-dev
  libopus-dev
  libvulkan-dev mesa-vulkan-drivers vulkan-tools glslc
  espeak-ng
  haproxy
  python3-numpy python3-torch python3-scipy python3-yaml libopenblas0-pthread
  python3-venv libopus0
)

# Only the tests need these: the browser page's test (chromium + chromium-driver), the Janus fan-out's, and the
# demo data's other speech engines and human recordings (flite, festival with three English voices,
# pocketsphinx's test recordings; about 27 MB to download, see docs/demo-avatar.md §4).
if [ "$mode" != run ]; then
  packages+=(chromium chromium-driver janus)
  packages+=(libflite1 festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts alsa-utils pocketsphinx-testdata)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift (6.1 or newer) must be on PATH: https://swift.org/install" >&2; exit 1; }

case "$mode" in
  deps)
    ;;
  run)
    echo "==> building avatard (release)"
    swift build -c release --product avatard
    exec scripts/demo.sh "$@"
    ;;
  test)
    echo "==> checking committed SPIR-V against the shader sources"
    if [ -x scripts/check-shaders.sh ]; then scripts/check-shaders.sh; fi
    echo "==> Python tool tests"
    for d in tools/tests tools/demo/tests; do
      if [ -d "$d" ] && ls "$d"/test_*.py >/dev/null 2>&1; then /usr/bin/python3 -m unittest discover -s "$d"; fi
    done
    echo "==> Swift tests (Vulkan on $(vulkaninfo --summary 2>/dev/null | grep -m1 deviceName | sed 's/.*= //'))"
    swift build --build-tests
    # One test at a time: the live-session tests measure wall-clock behaviour, and with tests in parallel a
    # GPU-heavy test can hold both cooperative threads of a 2-core machine for seconds (about 80 s in all).
    swift test --skip-build --no-parallel "$@"
    # The Python client against the daemon binary the build above produced.
    echo "==> Python client tests (clients/python)"
    swift build --product avatard
    scripts/client-tests.sh
    # The browser page, WHEP viewers and the Janus fan-out against the same binary.
    echo "==> web tests (tests/web)"
    scripts/web-tests.sh
    # One full-size MimicTalk renderer frame: converter → reference vs avatard renderer frame (docs/renderer.md).
    echo "==> MimicTalk renderer, full-size parity"
    scripts/renderer-parity.sh
    ;;
  *)
    echo "usage: $0 run|test|deps" >&2
    exit 2
    ;;
esac
