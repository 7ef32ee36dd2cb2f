#version 450
// C[b] = A[b] · op(B[b]) (+ bias), A: M×K row-major; B: K×N, or N×K with TRANSPOSE_B (Linear weights).
// 64×64 output tile per workgroup of 256 invocations, each computing a 4×4 register block; K in steps of 16
// through shared memory.
#include "include/common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer C { float c[]; };
layout(push_constant) uniform Params {
    uint M, N, K;
    uint strideA, strideB, strideC; // per-batch element strides
    uint hasBias;
    float alpha;
} p;

const uint BM = 64, BN = 64, BK = 16;
shared float As[BK][BM + 4];
shared float Bs[BK][BN + 4];

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint batch = gl_WorkGroupID.z;
    uint row0 = gl_WorkGroupID.y * BM;
    uint col0 = gl_WorkGroupID.x * BN;
    uint tr = tid / 16, tc = tid % 16;   // 16×16 invocations, 4×4 outputs each
    uint aBase = batch * p.strideA, bBase = batch * p.strideB;
    float acc[4][4];
    [[unroll]] for (int i = 0; i < 4; i++) [[unroll]] for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
        // Load A tile (BM×BK) and B tile (BK×BN): 1024 elements each, 4 per invocation.
        [[unroll]] for (uint i = 0; i < 4; i++) {
            uint e = tid + i * 256;
            uint r = e / BK, kk = e % BK;
            uint gr = row0 + r, gk = k0 + kk;
            As[kk][r] = (gr < p.M && gk < p.K) ? a[aBase + gr * p.K + gk] : 0.0;
#ifdef TRANSPOSE_B
            uint cc = e / BK, kb = e % BK;
            uint gc = col0 + cc, gkb = k0 + kb;
            Bs[kb][cc] = (gc < p.N && gkb < p.K) ? b[bBase + gc * p.K + gkb] : 0.0;
#else
            uint kb = e / BN, cc = e % BN;
            uint gc = col0 + cc, gkb = k0 + kb;
            Bs[kb][cc] = (gc < p.N && gkb < p.K) ? b[bBase + gkb * p.N + gc] : 0.0;
#endif
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            float av[4], bv[4];
            [[unroll]] for (uint i = 0; i < 4; i++) av[i] = As[kk][tr * 4 + i];
            [[unroll]] for (uint j = 0; j < 4; j++) bv[j] = Bs[kk][tc * 4 + j];
            [[unroll]] for (uint i = 0; i < 4; i++) [[unroll]] for (uint j = 0; j < 4; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier();
    }
    [[unroll]] for (uint i = 0; i < 4; i++) {
        uint r = row0 + tr * 4 + i;
        if (r >= p.M) continue;
        [[unroll]] for (uint j = 0; j < 4; j++) {
            uint col = col0 + tc * 4 + j;
            if (col >= p.N) continue;
            float v = acc[i][j] * p.alpha;
            if (p.hasBias != 0u) v += bias[col];
            c[batch * p.strideC + r * p.N + col] = v;
        }
    }
}
