#version 450
// GEGLU: x[rows, 2D] → value·gelu(gate), value = first half, gate = second half.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint rows; uint D; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256;
    if (i >= p.rows * p.D) return;
    uint r = i / p.D, c = i % p.D;
    y[i] = STORE_Y(float(x[r * 2u * p.D + c]) * gelu_erf(float(x[r * 2u * p.D + p.D + c])));
}
