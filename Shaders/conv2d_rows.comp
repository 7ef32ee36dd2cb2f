#version 450
// Conv2d (groups 1, stride 1) by row runs: each invocation computes 16 output channels × a run of 8 adjacent
// output pixels of one row. Per (input channel, kernel row) it fetches the 16-float input window around the
// run as 4 RGBA32F texels; per kernel tap it fetches the 16 channels' weights as 4 texels from tap-major
// weights [Cin, KH, KW, Cout]. A 3×3 kernel needs 16 fetches per 384 FMAs where conv2d_gemm needs 72 scalar
// ones (fetches bound both on lavapipe, see docs/engine.md). KW and padX are specialization constants so the
// window index is constant after unrolling. The host guarantees W % 4 == 0 (rows start on a texel),
// Cout % 4 == 0, padX ≤ 4 and KW − 1 − padX ≤ 4 (the window covers the run's taps).
#include "include/common.glsl"
#include "include/storage.glsl"
// Tile variants: RUN output pixels (a multiple of 4) × 4·CG output channels per invocation.
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
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
// Conv2dPush; kw, strides, padX and groups are fixed by the host (KW, PADX above, stride 1, groups 1).
layout(push_constant) uniform Params {
    uint Cin, H, W, Cout, OH, OW, KH, KWp;
    uint strideY, strideX, padY, padXp, groups, hasBias;
} p;

void main() {
    uint runsPerRow = (p.OW + RUN - 1u) / RUN;
    uint run = gl_GlobalInvocationID.x;
    if (run >= runsPerRow * p.OH) return;
    uint oy = run / runsPerRow, ox0 = (run % runsPerRow) * RUN;
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
    for (uint ci = 0; ci < p.Cin; ci++) {
        for (uint ky = 0; ky < p.KH; ky++) {
            int iy = int(oy + ky) - int(p.padY);
            bool rowOK = iy >= 0 && iy < int(p.H);
            float win[4 * NT];
            uint rowBase = (ci * p.H + uint(max(iy, 0))) * W4;
            [[unroll]] for (uint t = 0; t < NT; t++) {
                vec4 v = rowOK && colOK[t] ? texelFetch(X, int(rowBase) + t0 + int(t)) : vec4(0.0);
                win[4u * t] = v.x; win[4u * t + 1u] = v.y; win[4u * t + 2u] = v.z; win[4u * t + 3u] = v.w;
            }
            uint wBase = (ci * p.KH + ky) * KW * C4;
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
    uint pixels = p.OH * p.OW;
    [[unroll]] for (uint m = 0; m < CG; m++) {
        [[unroll]] for (uint c = 0; c < 4; c++) {
            uint co = co0 + 4u * m + c;
            if (co >= p.Cout) continue;
            float b = p.hasBias != 0u ? bias[co] : 0.0;
            uint base = co * pixels + oy * p.OW + ox0;
            [[unroll]] for (uint j = 0; j < RUN; j++) {
                if (ox0 + j < p.OW) y[base + j] = STORE_Y(acc[m][j][c] + b);
            }
        }
    }
}
