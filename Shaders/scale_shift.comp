#version 450
// Per-channel affine y = x·scale[c] + shift[c] with c = (i / inner) mod C: eval-mode BatchNorm folded into
// scale/shift (NAC blocks where BN precedes the activation), per-channel gains.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer S { float scale[]; };
layout(std430, binding = 2) readonly buffer T { float shift[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint n, C, inner; } p;

void main() {
    uint i = LINEAR_ID(256);
    if (i >= p.n) return;
    uint c = (i / p.inner) % p.C;
    y[i] = STORE_Y(fma(float(x[i]), scale[c], shift[c]));
}
