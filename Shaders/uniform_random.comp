#version 450
// Uniform draws in [0, 1) from a counter-based hash: y[i] = PCG(i + PCG(seed)) with 24 mantissa bits, seed [1]
// read as its 32-bit pattern (any 4-byte element). Same seed, same draws; no state between runs.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Seed { uint seed[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint count, stream; } p;

// PCG-RXS-M-XS 32-bit output permutation of one LCG step (O'Neill), used as an integer hash.
uint pcg_hash(uint v) {
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.count) return;
    uint key = pcg_hash(seed[0] ^ pcg_hash(p.stream));
    uint h = pcg_hash(pcg_hash(i + key) ^ key);
    y[i] = float(h >> 8) * (1.0 / 16777216.0);
}
