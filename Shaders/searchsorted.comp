#version 450
// torch.searchsorted per row: sorted [rows, Ns] ascending, values [rows, Nq] → indices [rows, Nq] (uint):
// the first i with sorted[i] >= v (left), or with sorted[i] > v (RIGHT, right=True).
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer S { float sorted[]; };
layout(std430, binding = 1) readonly buffer V { float values[]; };
layout(std430, binding = 2) writeonly buffer I { uint indices[]; };
layout(push_constant) uniform Params { uint rows, Ns, Nq; } p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.rows * p.Nq) return;
    uint row = i / p.Nq;
    float v = values[i];
    uint lo = 0u, hi = p.Ns;
    while (lo < hi) {
        uint mid = (lo + hi) >> 1;
        float s = sorted[row * p.Ns + mid];
#ifdef RIGHT
        bool goRight = s <= v;
#else
        bool goRight = s < v;
#endif
        if (goRight) lo = mid + 1u; else hi = mid;
    }
    indices[i] = lo;
}
