#!/usr/bin/env bash
# Full-size MimicTalk renderer parity, end to end: a synthetic person checkpoint of the official layout is
# converted by tools/convert.py person, the PyTorch reference renders one frame with injected random draws, and
# `avatard renderer frame` renders the same frame from the converted bundle on the Vulkan device (lavapipe in CI).
# Passes when max |Δ| ≤ 1e-3 and mean |Δ| ≤ 1e-4 on the final image (docs/renderer.md). The checkpoint, bundle
# and inputs are cached under .build/renderer-parity.
#
#   scripts/renderer-parity.sh            (AVATARD_BIN overrides .build/debug/avatard)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${AVATARD_BIN:-.build/debug/avatard}"
[ -x "$bin" ] || { echo "no avatard binary at $bin: run 'swift build --product avatard' first" >&2; exit 1; }
work=.build/renderer-parity
mkdir -p "$work"
echo "==> reference frame (synthetic full-size person checkpoint → convert.py person → PyTorch)"
/usr/bin/python3 -m tools.bench_renderer --work "$work" --size full --reference-only > "$work/reference.json"
echo "==> avatard renderer frame"
"$bin" renderer frame --avatar "$work/full/bundle" --inputs "$work/full/inputs" --out "$work/full/swift.npy" --require any
/usr/bin/python3 - "$work/full/reference.npy" "$work/full/swift.npy" <<'PY'
import sys
import numpy as np
ref, got = np.load(sys.argv[1]), np.load(sys.argv[2])
assert ref.shape == got.shape == (1, 3, 512, 512), (ref.shape, got.shape)
d = np.abs(ref.astype(np.float64) - got.astype(np.float64))
u8 = lambda x: ((x + 1) / 2 * 255).astype(np.int32)
print(f"renderer parity (full size, fp32): max |Δ| {d.max():.3g}, mean |Δ| {d.mean():.3g}, "
      f"uint8 pixels differing {(u8(ref) != u8(got)).mean() * 100:.3f} %")
if not (np.isfinite(got).all() and d.max() <= 1e-3 and d.mean() <= 1e-4):
    sys.exit("renderer parity: FAILED (tolerances max 1e-3, mean 1e-4)")
PY
