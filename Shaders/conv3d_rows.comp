#version 450
// Conv3d (groups 1, stride 1) by row runs: conv2d_rows.comp with a depth axis. Each invocation computes 16
// output channels × a run of 8 adjacent output voxels of one (depth, row) line. Per (input channel, kernel
// depth, kernel row) it fetches the 16-float input window around the run as 4 RGBA32F texels; per kernel tap it
// fetches the 16 channels' weights as 4 texels from tap-major weights [Cin, KD, KH, KW, Cout]. KW and padX are
// specialization constants so the window index is constant after unrolling. The host guarantees W % 4 == 0,
// Cout % 4 == 0, padX ≤ 4 and KW − 1 − padX ≤ 4 (the window covers the run's taps).
#include "include/common.glsl"
// Tile variants: RUN output voxels (a multiple of 4) × 4·CG output channels per invocation.
#ifndef RUN
#define RUN 8
#endif
#ifndef CG
#define CG 4
#endif
// The input window: texel columns ox0/4 − 1 … ox0/4 + RUN/4, i.e. NT texels.
#define NT (RUN / 4 + 2)
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WX = 8;
layout(constant_id = 1) const uint WY = 2;
layout(constant_id = 2) const uint KW = 3;
layout(constant_id = 3) const uint PADX = 1;
layout(binding = 0) uniform samplerBuffer X;
layout(binding = 1) uniform samplerBuffer Wt;
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
// Conv3dPush; kw, strides, padW and groups are fixed by the host (KW, PADX above, stride 1, groups 1).
layout(push_constant) uniform Params {
    uint Cin, D, H, W, Cout, OD, OH, OW;
    uint KD, KH, KWp, sD, sH, sW, pD, pH, pWp, groups, hasBias;
} p;

#ifdef PAIR
// Rows 4 wide (the hourglass's 4² levels): an 8-voxel run would hold 4 idle voxels, so each invocation takes the
// two lines oy, oy + 1 of one depth instead (the host guarantees W == OW == 4 and OH even). A row is one texel;
// taps that land in the row's zero padding are left out at compile time.
void main() {
    uint pairs = p.OD * (p.OH / 2u);
    uint run = gl_GlobalInvocationID.x;
    if (run >= pairs) return;
    uint oz = run / (p.OH / 2u), oy = (run % (p.OH / 2u)) * 2u;
    uint co0 = (gl_WorkGroupID.y * WY + gl_LocalInvocationID.y) * (4u * CG);
    uint C4 = p.Cout / 4u;
    uint cg[CG];
    [[unroll]] for (uint m = 0; m < CG; m++) cg[m] = min(co0 / 4u + m, C4 - 1u);
    vec4 acc[CG][8];
    [[unroll]] for (uint m = 0; m < CG; m++) [[unroll]] for (uint j = 0; j < 8; j++) acc[m][j] = vec4(0.0);
    int z0 = int(oz) - int(p.pD), y0 = int(oy) - int(p.pH);
    uint kz0 = uint(max(-z0, 0)), kz1 = uint(clamp(int(p.D) - z0, 0, int(p.KD)));
    for (uint ci = 0; ci < p.Cin; ci++) {
        for (uint kz = kz0; kz < kz1; kz++) {
            uint plane = ci * p.D + uint(z0 + int(kz));
            for (uint ky = 0; ky < p.KH; ky++) {
                // The two input rows (one texel each), zero where they fall in the padding.
                vec4 rows[2];
                [[unroll]] for (uint l = 0; l < 2; l++) {
                    int iy = y0 + int(ky + l);
                    rows[l] = iy >= 0 && iy < int(p.H) ? texelFetch(X, int(plane * p.H) + iy) : vec4(0.0);
                }
                uint wBase = ((ci * p.KD + kz) * p.KH + ky) * KW * C4;
                [[unroll]] for (uint kx = 0; kx < KW; kx++) {
                    vec4 wv[CG];
                    [[unroll]] for (uint m = 0; m < CG; m++) wv[m] = texelFetch(Wt, int(wBase + kx * C4 + cg[m]));
                    // Voxel j of line l reads input column j + kx − PADX of row l.
                    [[unroll]] for (uint j = 0; j < 8; j++) {
                        int col = int(j % 4u + kx) - int(PADX);
                        if (col < 0 || col > 3) continue;
                        float xv = rows[j / 4u][col];
                        [[unroll]] for (uint m = 0; m < CG; m++) acc[m][j] = fma(wv[m], vec4(xv), acc[m][j]);
                    }
                }
            }
        }
    }
    uint voxels = p.OD * p.OH * 4u;
    [[unroll]] for (uint m = 0; m < CG; m++) {
        [[unroll]] for (uint c = 0; c < 4; c++) {
            uint co = co0 + 4u * m + c;
            if (co >= p.Cout) continue;
            float b = p.hasBias != 0u ? bias[co] : 0.0;
            uint base = co * voxels + (oz * p.OH + oy) * 4u;
            [[unroll]] for (uint j = 0; j < 8; j++) y[base + j] = acc[m][j][c] + b;
        }
    }
}
#else
void main() {
    uint runsPerRow = (p.OW + RUN - 1u) / RUN;
    uint run = gl_GlobalInvocationID.x;
    if (run >= runsPerRow * p.OH * p.OD) return;
    uint line = run / runsPerRow, ox0 = (run % runsPerRow) * RUN;
    uint oy = line % p.OH, oz = line / p.OH;
    uint co0 = (gl_WorkGroupID.y * WY + gl_LocalInvocationID.y) * (4u * CG);
    uint W4 = p.W / 4u, C4 = p.Cout / 4u;
    // Weight texel column of each 4-channel group (clamped past Cout; those outputs are not written).
    uint cg[CG];
    [[unroll]] for (uint m = 0; m < CG; m++) cg[m] = min(co0 / 4u + m, C4 - 1u);
    // The window's texels: columns ox0 − 4 … ox0 + RUN + 3, i.e. texel columns ox0/4 − 1 + t.
    int t0 = int(ox0 / 4u) - 1;
    bool colOK[NT];
    [[unroll]] for (uint t = 0; t < NT; t++) colOK[t] = t0 + int(t) >= 0 && t0 + int(t) < int(W4);
    vec4 acc[CG][RUN];
    [[unroll]] for (uint m = 0; m < CG; m++) [[unroll]] for (uint j = 0; j < RUN; j++) acc[m][j] = vec4(0.0);
    // Kernel depths and rows that land in the zero padding contribute nothing: skip them.
    int z0 = int(oz) - int(p.pD), y0 = int(oy) - int(p.pH);
    uint kz0 = uint(max(-z0, 0)), kz1 = uint(clamp(int(p.D) - z0, 0, int(p.KD)));
    uint ky0 = uint(max(-y0, 0)), ky1 = uint(clamp(int(p.H) - y0, 0, int(p.KH)));
    for (uint ci = 0; ci < p.Cin; ci++) {
        for (uint kz = kz0; kz < kz1; kz++) {
            uint plane = ci * p.D + uint(z0 + int(kz));
            for (uint ky = ky0; ky < ky1; ky++) {
                float win[4 * NT];
                uint rowBase = (plane * p.H + uint(y0 + int(ky))) * W4;
                [[unroll]] for (uint t = 0; t < NT; t++) {
                    vec4 v = colOK[t] ? texelFetch(X, int(rowBase) + t0 + int(t)) : vec4(0.0);
                    win[4u * t] = v.x; win[4u * t + 1u] = v.y; win[4u * t + 2u] = v.z; win[4u * t + 3u] = v.w;
                }
                uint wBase = ((ci * p.KD + kz) * p.KH + ky) * KW * C4;
                [[unroll]] for (uint kx = 0; kx < KW; kx++) {
                    vec4 wv[CG];
                    [[unroll]] for (uint m = 0; m < CG; m++) wv[m] = texelFetch(Wt, int(wBase + kx * C4 + cg[m]));
                    // Output ox0 + j reads input column ox0 + j − PADX + kx = window element j + 4 − PADX + kx.
                    [[unroll]] for (uint j = 0; j < RUN; j++) {
                        float xv = win[j + 4u - PADX + kx];
                        [[unroll]] for (uint m = 0; m < CG; m++) acc[m][j] = fma(wv[m], vec4(xv), acc[m][j]);
                    }
                }
            }
        }
    }
    uint voxels = p.OD * p.OH * p.OW;
    [[unroll]] for (uint m = 0; m < CG; m++) {
        [[unroll]] for (uint c = 0; c < 4; c++) {
            uint co = co0 + 4u * m + c;
            if (co >= p.Cout) continue;
            float b = p.hasBias != 0u ? bias[co] : 0.0;
            uint base = co * voxels + (oz * p.OH + oy) * p.OW + ox0;
            [[unroll]] for (uint j = 0; j < RUN; j++) {
                if (ox0 + j < p.OW) y[base + j] = acc[m][j][c] + b;
            }
        }
    }
}
#endif
