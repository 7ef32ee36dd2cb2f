#version 450
#extension GL_EXT_control_flow_attributes : enable
// C[b] = alpha·A[b]·op(B[b]) (+ bias), reading A and B as RGBA32F uniform texel buffers (16 bytes per
// texelFetch). The host picks this variant when K (and N for B as K×N) are multiples of 4 and the offsets
// are texel-aligned, else matmul.comp.
//
// Why texel buffers: lavapipe turns every storage-buffer load into a per-lane scalar loop with bounds
// checks, while texelFetch goes through its vectorized gather path (3× faster at 1024³, see
// docs/performance.md); on GPUs texel fetches go through the texture cache.
// Register blocking without shared memory (see matmul.comp for why): each invocation keeps a TM×TN block
// of C. A is read as vec4 along K. B (K×N) is read as vec4 along N, each invocation owning TN/4 groups of
// 4 adjacent columns strided by the workgroup width; with TRANSPOSE_B (N×K, Linear weights) B is read as
// vec4 along K and the block's columns are strided by the workgroup width.
#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 8
#endif
// Workgroup width (the host passes the subgroup size) and height: specialization constants.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WX = 8;
layout(constant_id = 1) const uint WY = 2;
layout(binding = 0) uniform samplerBuffer A;
layout(binding = 1) uniform samplerBuffer B;
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
// C_F16: fp16 storage of C (fp16 activations); A and B are texel views, fp16 ones read through RGBA16F
// views chosen by the host, so only the store differs. Accumulation stays fp32.
#include "include/storage.glsl"
layout(std430, binding = 3) writeonly buffer C { C_T c[]; };
layout(push_constant) uniform Params {
    uint M, N, K;
    uint strideA, strideB, strideC; // per-batch element strides
    uint hasBias;
    float alpha;
} p;

void main() {
    uint batch = gl_WorkGroupID.z;
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint row0 = gl_WorkGroupID.y * (WY * TM) + ly * TM;
    uint K4 = p.K / 4u;
    uint aBase = batch * p.strideA / 4u, bBase = batch * p.strideB / 4u;
    uint rows[TM];
    [[unroll]] for (uint i = 0; i < TM; i++) rows[i] = aBase + min(row0 + i, p.M - 1u) * K4;
#ifdef TRANSPOSE_B
    // Columns col0 + j·WX.
    uint col0 = gl_WorkGroupID.x * (WX * TN) + lx;
    uint cols[TN];
    [[unroll]] for (uint j = 0; j < TN; j++) cols[j] = bBase + min(col0 + j * WX, p.N - 1u) * K4;
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    for (uint k = 0; k < K4; k++) {
        vec4 av[TM], bv[TN];
        [[unroll]] for (uint i = 0; i < TM; i++) av[i] = texelFetch(A, int(rows[i] + k));
        [[unroll]] for (uint j = 0; j < TN; j++) bv[j] = texelFetch(B, int(cols[j] + k));
        [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] += dot(av[i], bv[j]);
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint r = row0 + i;
        if (r >= p.M) continue;
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint col = col0 + j * WX;
            if (col >= p.N) continue;
            float v = acc[i][j] * p.alpha;
            if (p.hasBias != 0u) v += bias[col];
            c[batch * p.strideC + r * p.N + col] = STORE_C(v);
        }
    }
#else
    // Column groups (4 adjacent columns each) g0 + j·WX, in vec4 units.
    const uint TG = TN / 4;
    uint N4 = p.N / 4u;
    uint g0 = gl_WorkGroupID.x * (WX * TG) + lx;
    uint groups[TG];
    [[unroll]] for (uint j = 0; j < TG; j++) groups[j] = bBase + min(g0 + j * WX, N4 - 1u);
    vec4 acc[TM][TG];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TG; j++) acc[i][j] = vec4(0.0);
    for (uint k = 0; k < K4; k++) {
        vec4 av[TM];
        [[unroll]] for (uint i = 0; i < TM; i++) av[i] = texelFetch(A, int(rows[i] + k));
        uint kb = 4u * k * N4;
        [[unroll]] for (uint kk = 0; kk < 4; kk++) {
            vec4 bv[TG];
            [[unroll]] for (uint j = 0; j < TG; j++) bv[j] = texelFetch(B, int(groups[j] + kb + kk * N4));
            [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TG; j++) acc[i][j] = fma(vec4(av[i][kk]), bv[j], acc[i][j]);
        }
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint r = row0 + i;
        if (r >= p.M) continue;
        [[unroll]] for (uint j = 0; j < TG; j++) {
            uint g = g0 + j * WX;
            if (g >= N4) continue;
            [[unroll]] for (uint e = 0; e < 4; e++) {
                float v = acc[i][j][e] * p.alpha;
                if (p.hasBias != 0u) v += bias[4u * g + e];
                c[batch * p.strideC + r * p.N + 4u * g + e] = STORE_C(v);
            }
        }
    }
#endif
}
