#!/usr/bin/env bash
# Runs avatard's seeded fuzz tests for longer than CI does (binary header, JSON control messages, Opus
# receiver and session timeline random seq/ts walks, TOML configuration, bundle manifests).
#
#   scripts/fuzz.sh                      # 10 rounds of new seeds, 60 s per target, 10x CI's cases
#   AVATARD_FUZZ_SEED=1234 scripts/fuzz.sh   # replay one seed (as printed by a failure)
#
# Environment: AVATARD_FUZZ_SEED (a fixed seed: one round), AVATARD_FUZZ_ROUNDS (new seeds, default 10),
# AVATARD_FUZZ_ITERATIONS (cases per target, default 10x CI), AVATARD_FUZZ_SECONDS (per target, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export AVATARD_FUZZ_SECONDS="${AVATARD_FUZZ_SECONDS:-60}"
filter='FuzzTests|ManifestFuzzTests'
run() {
    echo "fuzz: seed $AVATARD_FUZZ_SEED, ${AVATARD_FUZZ_ITERATIONS:-10x CI} cases, ${AVATARD_FUZZ_SECONDS} s per target"
    if [ -n "${AVATARD_FUZZ_ITERATIONS:-}" ]; then
        swift test --skip-build --no-parallel --filter "$filter"
    else
        # 10x the CI counts: the tests multiply their default by this.
        AVATARD_FUZZ_SCALE=10 swift test --skip-build --no-parallel --filter "$filter"
    fi
}
if [ -n "${AVATARD_FUZZ_SEED:-}" ]; then
    run
else
    for _ in $(seq "${AVATARD_FUZZ_ROUNDS:-10}"); do
        AVATARD_FUZZ_SEED=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
        export AVATARD_FUZZ_SEED
        run || { echo "fuzz: failure with AVATARD_FUZZ_SEED=$AVATARD_FUZZ_SEED"; exit 1; }
    done
fi
