#version 450
// Conv2d (groups = 1) as an implicit GEMM: Y[Cout, OH·OW] = W[Cout, Cin·KH·KW] · X̂ where X̂ is the im2col
// matrix, gathered on the fly (never stored). Register-blocked like matmul_vec4.comp: each invocation
// keeps TM output channels × TN pixels; pixels are strided by the workgroup width so neighbouring
// invocations read neighbouring input addresses. Workgroup width/height are specialization constants
// (the host passes the subgroup size).
#include "include/common.glsl"
#include "include/storage.glsl"
#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 8
#endif
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WX = 8;
layout(constant_id = 1) const uint WY = 2;
#ifdef TEXEL
// Input and weights through RGBA32F texel buffers (vectorized gathers on CPU drivers; see matmul_vec4.comp).
layout(binding = 0) uniform samplerBuffer X;
layout(binding = 1) uniform samplerBuffer Wt;
#define LOAD_X(i) texelFetch(X, int((i) >> 2))[(i) & 3u]
#define LOAD_W(i) texelFetch(Wt, int((i) >> 2))[(i) & 3u]
#else
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
#define LOAD_X(i) float(x[i])
#define LOAD_W(i) w[i]
#endif
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params {
    uint Cin, H, W, Cout, OH, OW, KH, KW;
    uint strideY, strideX, padY, padX, groups, hasBias;
} p;

void main() {
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint pixels = p.OH * p.OW;
    uint co0 = gl_WorkGroupID.y * (WY * TM) + ly * TM;
    uint pix0 = gl_WorkGroupID.x * (WX * TN) + lx;
    uint kdim = p.Cin * p.KH * p.KW;
    uint wRow[TM];
    [[unroll]] for (uint i = 0; i < TM; i++) wRow[i] = min(co0 + i, p.Cout - 1u) * kdim;
    int baseY[TN], baseX[TN];
    [[unroll]] for (uint j = 0; j < TN; j++) {
        uint pix = min(pix0 + j * WX, pixels - 1u);
        baseY[j] = int((pix / p.OW) * p.strideY) - int(p.padY);
        baseX[j] = int((pix % p.OW) * p.strideX) - int(p.padX);
    }
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    uint kidx = 0u;
    for (uint ci = 0; ci < p.Cin; ci++) {
        uint plane = ci * p.H * p.W;
        for (uint ky = 0; ky < p.KH; ky++) {
            for (uint kx = 0; kx < p.KW; kx++) {
                float bv[TN];
                [[unroll]] for (uint j = 0; j < TN; j++) {
                    int iy = baseY[j] + int(ky), ix = baseX[j] + int(kx);
                    bool inside = iy >= 0 && iy < int(p.H) && ix >= 0 && ix < int(p.W);
                    bv[j] = inside ? LOAD_X(plane + uint(iy) * p.W + uint(ix)) : 0.0;
                }
                float av[TM];
                [[unroll]] for (uint i = 0; i < TM; i++) av[i] = LOAD_W(wRow[i] + kidx);
                [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                kidx++;
            }
        }
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint co = co0 + i;
        if (co >= p.Cout) continue;
        float b = p.hasBias != 0u ? bias[co] : 0.0;
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint pix = pix0 + j * WX;
            if (pix < pixels) y[co * pixels + pix] = STORE_Y(acc[i][j] + b);
        }
    }
}
