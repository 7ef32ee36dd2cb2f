#version 450
// C[b] = alpha·A[b]·op(B[b]) (+ bias); A: M×K row-major; B: K×N, or N×K with TRANSPOSE_B (Linear weights).
// General shapes; matmul_vec4.comp is the faster variant for aligned shapes.
//
// Tile: 64×64 per workgroup of 8×4 invocations, each holding a 16×8 block (measured best on lavapipe,
// see docs/performance.md). No shared memory and no barriers: on CPU drivers (lavapipe runs a workgroup's invocations as SIMD lanes
// of one thread, and barriers are costly) and on GPUs alike, each invocation keeps a TM×TN block of C in
// registers. Columns of a block are strided by the workgroup width so that neighbouring invocations read
// neighbouring addresses of B (coalesced on GPUs, contiguous gathers on CPUs).
#ifndef WX
#define WX 8
#endif
#ifndef WY
#define WY 4
#endif
layout(local_size_x = WX, local_size_y = WY) in;
// A_F16 / B_F16 / C_F16: fp16 storage of that operand (fp16 weights, fp16 activations), fp32 arithmetic and
// accumulation (needs storageBuffer16BitAccess).
#include "include/storage.glsl"
layout(std430, binding = 0) readonly buffer A { A_T a[]; };
layout(std430, binding = 1) readonly buffer B { B_T b[]; };
#define LOAD_B(i) float(b[i])
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer C { C_T c[]; };
layout(push_constant) uniform Params {
    uint M, N, K;
    uint strideA, strideB, strideC; // per-batch element strides
    uint hasBias;
    float alpha;
} p;

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 8
#endif

void main() {
    uint batch = gl_WorkGroupID.z;
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint col0 = gl_WorkGroupID.x * (WX * TN) + lx;      // columns col0 + j·WX
    uint row0 = gl_WorkGroupID.y * (WY * TM) + ly * TM; // rows row0 + i
    uint aBase = batch * p.strideA, bBase = batch * p.strideB;
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++) for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    uint rows[TM];
    uint cols[TN];
    for (uint i = 0; i < TM; i++) rows[i] = min(row0 + i, p.M - 1);
    for (uint j = 0; j < TN; j++) cols[j] = min(col0 + j * WX, p.N - 1);

    for (uint k = 0; k < p.K; k++) {
        float av[TM], bv[TN];
        for (uint i = 0; i < TM; i++) av[i] = float(a[aBase + rows[i] * p.K + k]);
#ifdef TRANSPOSE_B
        for (uint j = 0; j < TN; j++) bv[j] = LOAD_B(bBase + cols[j] * p.K + k);
#else
        for (uint j = 0; j < TN; j++) bv[j] = LOAD_B(bBase + k * p.N + cols[j]);
#endif
        for (uint i = 0; i < TM; i++) for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }
    for (uint i = 0; i < TM; i++) {
        uint r = row0 + i;
        if (r >= p.M) continue;
        for (uint j = 0; j < TN; j++) {
            uint col = col0 + j * WX;
            if (col >= p.N) continue;
            float v = acc[i][j] * p.alpha;
            if (p.hasBias != 0u) v += bias[col];
            c[batch * p.strideC + r * p.N + col] = STORE_C(v);
        }
    }
}
