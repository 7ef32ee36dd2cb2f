#version 450
// Conv3d (groups = 1) as an implicit GEMM: Y[Cout, OD·OH·OW] = W[Cout, Cin·KD·KH·KW] · X̂ with X̂ the im2col
// matrix gathered on the fly — conv2d_gemm.comp with a depth axis. Each invocation keeps TM output channels ×
// TN voxels, voxels strided by the workgroup width so neighbouring invocations read neighbouring addresses.
// The validity of the (kz, ky) row is tested once per row; only the x tap is tested per element.
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
    uint Cin, D, H, W, Cout, OD, OH, OW;
    uint KD, KH, KW, sD, sH, sW, pD, pH, pW, groups, hasBias;
} p;

void main() {
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint voxels = p.OD * p.OH * p.OW;
    uint co0 = gl_WorkGroupID.y * (WY * TM) + ly * TM;
    uint vox0 = gl_WorkGroupID.x * (WX * TN) + lx;
    uint kdim = p.Cin * p.KD * p.KH * p.KW;
    uint wRow[TM];
    [[unroll]] for (uint i = 0; i < TM; i++) wRow[i] = min(co0 + i, p.Cout - 1u) * kdim;
    int baseZ[TN], baseY[TN], baseX[TN];
    [[unroll]] for (uint j = 0; j < TN; j++) {
        uint v = min(vox0 + j * WX, voxels - 1u);
        uint ox = v % p.OW, oy = (v / p.OW) % p.OH, oz = v / (p.OW * p.OH);
        baseZ[j] = int(oz * p.sD) - int(p.pD);
        baseY[j] = int(oy * p.sH) - int(p.pH);
        baseX[j] = int(ox * p.sW) - int(p.pW);
    }
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    uint plane = p.H * p.W;
    uint kidx = 0u;
    for (uint ci = 0; ci < p.Cin; ci++) {
        uint volume = ci * p.D * plane;
        for (uint kz = 0; kz < p.KD; kz++) {
            for (uint ky = 0; ky < p.KH; ky++) {
                // Row start per voxel, or -1 where the (z, y) row lies in the zero padding.
                int row[TN];
                [[unroll]] for (uint j = 0; j < TN; j++) {
                    int iz = baseZ[j] + int(kz), iy = baseY[j] + int(ky);
                    bool inside = iz >= 0 && iz < int(p.D) && iy >= 0 && iy < int(p.H);
                    row[j] = inside ? int(volume + uint(iz) * plane + uint(iy) * p.W) : -1;
                }
                for (uint kx = 0; kx < p.KW; kx++) {
                    float bv[TN];
                    [[unroll]] for (uint j = 0; j < TN; j++) {
                        int ix = baseX[j] + int(kx);
                        bool inside = row[j] >= 0 && ix >= 0 && ix < int(p.W);
                        bv[j] = inside ? LOAD_X(uint(row[j] + ix)) : 0.0;
                    }
                    float av[TM];
                    [[unroll]] for (uint i = 0; i < TM; i++) av[i] = LOAD_W(wRow[i] + kidx);
                    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                    kidx++;
                }
            }
        }
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint co = co0 + i;
        if (co >= p.Cout) continue;
        float b = p.hasBias != 0u ? bias[co] : 0.0;
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint v = vox0 + j * WX;
            if (v < voxels) y[co * voxels + v] = STORE_Y(acc[i][j] + b);
        }
    }
}
