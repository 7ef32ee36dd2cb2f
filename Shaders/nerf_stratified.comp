#version 450
// Stratified depths: limits [M, 2], uniform draws [M, Nc] → z [M, Nc] = start + k/(Nc−1)·span + r·span/(Nc−1).
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Limits { float limits[]; };
layout(std430, binding = 1) readonly buffer Rand { float rand[]; };
layout(std430, binding = 2) writeonly buffer Z { float z[]; };
layout(push_constant) uniform Params { uint M, Nc; } p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.M * p.Nc) return;
    uint m = i / p.Nc;
    float s = limits[2u * m], span = limits[2u * m + 1u] - s;
    float steps = float(i % p.Nc) / float(p.Nc - 1u);
    z[i] = s + steps * span + rand[i] * (span / float(p.Nc - 1u));
}
