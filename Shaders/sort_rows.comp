#version 450
// Sorts each row of x [rows, D] (D ≤ 128) ascending (or descending), writing the values and the source
// indices (uint). One workgroup per row: a bitonic network over 128 slots in shared memory, the row padded
// with +inf. Ties are broken by index, so the result is stable and deterministic.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer I { uint indices[]; };
layout(push_constant) uniform Params { uint rows, D, descending; } p;

const uint N = 128u;
shared float keys[N];
shared uint slots[N];

// Whether element a must come after element b.
bool after(float ka, uint ia, float kb, uint ib) {
    return ka > kb || (ka == kb && ia > ib);
}

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    for (uint i = t; i < N; i += 64u) {
        // Descending order sorts the negated keys (index tie-break stays ascending).
        float v = i < p.D ? x[row * p.D + i] : 1.0 / 0.0;
        keys[i] = (p.descending != 0u && i < p.D) ? -v : v;
        slots[i] = i;
    }
    barrier();
    for (uint k = 2u; k <= N; k <<= 1) {
        for (uint j = k >> 1; j > 0u; j >>= 1) {
            for (uint i = t; i < N; i += 64u) {
                uint l = i ^ j;
                if (l > i) {
                    bool ascending = (i & k) == 0u;
                    bool swapIt = ascending ? after(keys[i], slots[i], keys[l], slots[l]) : after(keys[l], slots[l], keys[i], slots[i]);
                    if (swapIt) {
                        float kt = keys[i]; keys[i] = keys[l]; keys[l] = kt;
                        uint st = slots[i]; slots[i] = slots[l]; slots[l] = st;
                    }
                }
            }
            barrier();
        }
    }
    for (uint i = t; i < p.D; i += 64u) {
        y[row * p.D + i] = p.descending != 0u ? -keys[i] : keys[i];
        indices[row * p.D + i] = slots[i];
    }
}
