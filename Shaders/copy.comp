#version 450
// Strided copy of a 4-D index space: y[dstOffset + Σ i_k·dstStride_k] = x[srcOffset + Σ i_k·srcStride_k].
// Slice, concat (one copy per part), permute and broadcast (stride 0) are all this one kernel.
// X_F16 / Y_F16: fp16 source / destination (the graph's boundary conversions are copies between the two).
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params {
    uint s0, s1, s2, s3;      // index space, outermost first
    uint a0, a1, a2, a3;      // source strides
    uint b0, b1, b2, b3;      // destination strides
    uint srcOffset, dstOffset;
} p;

void main() {
    uint i = LINEAR_ID(256);
    if (i >= p.s0 * p.s1 * p.s2 * p.s3) return;
    uint i3 = i % p.s3, i2 = (i / p.s3) % p.s2, i1 = (i / (p.s3 * p.s2)) % p.s1, i0 = i / (p.s3 * p.s2 * p.s1);
    y[p.dstOffset + i0 * p.b0 + i1 * p.b1 + i2 * p.b2 + i3 * p.b3] = STORE_Y(float(x[p.srcOffset + i0 * p.a0 + i1 * p.a1 + i2 * p.a2 + i3 * p.a3]));
}
