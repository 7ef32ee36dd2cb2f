#!/usr/bin/env bash
# Fails if the committed SPIR-V, or the generated Swift list of variants, differs from what Shaders/ gives now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/build-shaders.sh "$tmp"
status=0
for f in "$tmp"/*.spv; do
  name=$(basename "$f")
  if ! cmp -s "$f" "Sources/AvatarOperators/SPIRV/$name"; then
    echo "stale SPIR-V: $name (run scripts/build-shaders.sh and commit)" >&2
    status=1
  fi
done
for f in Sources/AvatarOperators/SPIRV/*.spv; do
  [ -e "$tmp/$(basename "$f")" ] || { echo "SPIR-V without a variant: $(basename "$f")" >&2; status=1; }
done
scripts/gen-shader-variants.sh "$tmp/ShaderVariants.swift"
if ! cmp -s "$tmp/ShaderVariants.swift" Sources/AvatarOperators/ShaderVariants.swift; then
  echo "stale Sources/AvatarOperators/ShaderVariants.swift (run scripts/build-shaders.sh and commit)" >&2
  status=1
fi
exit $status
