#version 450
// Row softmax of scale·x (+ additive mask row, e.g. −inf for padding).
//   default: one workgroup of 128 invocations per row (wide rows, few of them);
//   ROW_PER_INVOCATION: one invocation per row, no shared memory or barriers (many rows, e.g. attention
//   scores; on CPU drivers barriers are coroutine switches).
// X_F16 / Y_F16: fp16 scores (max, sum and exp in fp32).
#include "include/common.glsl"
#include "include/storage.glsl"
#ifdef ROW_PER_INVOCATION
layout(local_size_x = 64) in;
#else
layout(local_size_x = 128) in;
#endif
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer Mask { float mask[]; };
layout(std430, binding = 2) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint rows; uint D; float scale; uint hasMask; uint maskRows; } p;

#ifdef ROW_PER_INVOCATION
void main() {
    uint row = LINEAR_ID(64);
    if (row >= p.rows) return;
    uint base = row * p.D;
    uint mbase = p.hasMask != 0u ? (row % p.maskRows) * p.D : 0u;
    float m = -3.402823e38;
    for (uint i = 0; i < p.D; i++) m = max(m, float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0));
    float sum = 0.0;
    for (uint i = 0; i < p.D; i++) sum += exp(float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0) - m);
    float inv = 1.0 / sum;
    for (uint i = 0; i < p.D; i++) y[base + i] = STORE_Y(exp(float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0) - m) * inv);
}
#else
shared float red[128];

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint base = row * p.D;
    uint mbase = p.hasMask != 0u ? (row % p.maskRows) * p.D : 0u;
    float m = -3.402823e38;
    for (uint i = t; i < p.D; i += 128) {
        float v = float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0);
        m = max(m, v);
    }
    red[t] = m;
    barrier();
    for (uint s = 64; s > 0; s >>= 1) { if (t < s) red[t] = max(red[t], red[t + s]); barrier(); }
    m = red[0];
    barrier();
    float sum = 0.0;
    for (uint i = t; i < p.D; i += 128) {
        float v = float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0);
        sum += exp(v - m);
    }
    red[t] = sum;
    barrier();
    for (uint s = 64; s > 0; s >>= 1) { if (t < s) red[t] += red[t + s]; barrier(); }
    float inv = 1.0 / red[0];
    for (uint i = t; i < p.D; i += 128) {
        float v = float(x[base + i]) * p.scale + (p.hasMask != 0u ? mask[mbase + i] : 0.0);
        y[base + i] = STORE_Y(exp(v - m) * inv);
    }
}
#endif
