#version 450
// Rotary position embedding, rotate-half (non-interleaved) convention, on x [rows, D] where row r has
// position index (r mod L) into host-precomputed tables cos, sin [L, D/2] (computed in double on the CPU:
// positions like −10000 make shader sin/cos inaccurate).
//   y[i]       = x[i]·cos − x[i + D/2]·sin
//   y[i + D/2] = x[i + D/2]·cos + x[i]·sin
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Cos { float cosTable[]; };
layout(std430, binding = 2) readonly buffer Sin { float sinTable[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint rows, D, L; } p;

void main() {
    uint half_ = p.D / 2u;
    uint i = LINEAR_ID(64);
    if (i >= p.rows * half_) return;
    uint r = i / half_, j = i % half_;
    uint t = (r % p.L) * half_ + j;
    float c = cosTable[t], s = sinTable[t];
    float a = x[r * p.D + j], b = x[r * p.D + half_ + j];
    y[r * p.D + j] = a * c - b * s;
    y[r * p.D + half_ + j] = b * c + a * s;
}
