#!/usr/bin/env bash
# Compiles every variant in Shaders/variants.txt with glslc into Sources/AvatarOperators/SPIRV/<name>.spv
# (or the directory $1) and regenerates the typed Swift list of variants (scripts/gen-shader-variants.sh).
# The SPIR-V is committed, so `swift build` needs no glslc; scripts/check-shaders.sh (run by the test
# command) verifies that regeneration is byte-identical. Set AVATARD_GLSLC_NO_OPT=name,name to compile
# listed variants without -O (escape hatch for optimizer bugs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/AvatarOperators/SPIRV}"
mkdir -p "$out"
noopt=",${AVATARD_GLSLC_NO_OPT:-},"
while read -r name source _push _bindings _texel defines; do
  case "$name" in ''|\#*) continue ;; esac
  opt="-O"
  [[ "$noopt" == *",$name,"* ]] && opt="-O0"
  # shellcheck disable=SC2086
  glslc -fshader-stage=compute --target-env=vulkan1.2 $opt -I Shaders $defines "Shaders/$source" -o "$out/$name.spv"
done < Shaders/variants.txt
[ $# -gt 0 ] || scripts/gen-shader-variants.sh
