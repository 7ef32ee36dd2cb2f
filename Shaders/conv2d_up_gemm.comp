#version 450
// StyleGAN's up-sampling convolution over the *stored* kernel layout W [Cout, Cin, KH, KW]: the correlation of W
// with the input zero-inserted by 2 (H → 2H−1, samples at even positions) and zero-padded by (padY, padX), so
// OH = 2H − 1 + 2·padY − KH + 1 (the renderer's 3×3, pad 2: 2H + 1). Same implicit-GEMM tiling as
// conv2d_gemm.comp, evaluated polyphase: workgroup z picks the output parity (py, px); at that parity only taps
// ky ≡ padY + py (mod 2) (likewise kx) meet an input sample, so no inserted zero is ever read or multiplied
// (a quarter of the dense work for 3×3; the same products as conv_transpose2d with the flipped, transposed kernel).
// strideY/strideX must be 2 (the insertion factor); groups 1; KH, KW ≤ 4.
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
    uint Cin, H, W, Cout, OH, OW, KH, KW;
    uint strideY, strideX, padY, padX, groups, hasBias;
} p;

void main() {
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint py = gl_WorkGroupID.z >> 1, px = gl_WorkGroupID.z & 1u;
    // Outputs of this parity: rows oy = 2·m + py, columns ox = 2·n + px.
    uint ny = (p.OH + 1u - py) / 2u, nx = (p.OW + 1u - px) / 2u;
    uint pixels = ny * nx;
    if (pixels == 0u) return;  // uniform per workgroup (1-pixel outputs have no odd parity)
    uint co0 = gl_WorkGroupID.y * (WY * TM) + ly * TM;
    uint pix0 = gl_WorkGroupID.x * (WX * TN) + lx;
    // Output 2m + py reads inserted position 2m + py + ky − padY, a sample when even: input row
    // m + (py + ky − padY)/2. The parity's first tap ky0 and its input offset (exact division, may be negative).
    uint ky0 = (p.padY + py) & 1u, kx0 = (p.padX + px) & 1u;
    int offY = (int(py + ky0) - int(p.padY)) / 2, offX = (int(px + kx0) - int(p.padX)) / 2;
    uint kdim = p.Cin * p.KH * p.KW;
    uint wRow[TM];
    [[unroll]] for (uint i = 0; i < TM; i++) wRow[i] = min(co0 + i, p.Cout - 1u) * kdim;
    int baseY[TN], baseX[TN];
    [[unroll]] for (uint j = 0; j < TN; j++) {
        uint pix = min(pix0 + j * WX, pixels - 1u);
        baseY[j] = int(pix / nx) + offY;
        baseX[j] = int(pix % nx) + offX;
    }
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    // KH, KW ≤ 4 (the host checks): at most 2 taps per parity and axis, so the tap loops have constant bounds.
    uint kyEnd = p.KH, kxEnd = p.KW;
    for (uint ci = 0; ci < p.Cin; ci++) {
        uint plane = ci * p.H * p.W;
        uint kci = ci * p.KH * p.KW;
        [[unroll]] for (int ty = 0; ty < 2; ty++) {
            uint ky = ky0 + 2u * uint(ty);
            if (ky >= kyEnd) break;
            [[unroll]] for (int tx = 0; tx < 2; tx++) {
                uint kx = kx0 + 2u * uint(tx);
                if (kx >= kxEnd) break;
                float bv[TN];
                [[unroll]] for (uint j = 0; j < TN; j++) {
                    int iy = baseY[j] + ty, ix = baseX[j] + tx;
                    bool inside = iy >= 0 && iy < int(p.H) && ix >= 0 && ix < int(p.W);
                    bv[j] = inside ? LOAD_X(plane + uint(iy) * p.W + uint(ix)) : 0.0;
                }
                uint kidx = kci + ky * p.KW + kx;
                float av[TM];
                [[unroll]] for (uint i = 0; i < TM; i++) av[i] = LOAD_W(wRow[i] + kidx);
                [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
            }
        }
    }
    uint outPixels = p.OH * p.OW;
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint co = co0 + i;
        if (co >= p.Cout) continue;
        float b = p.hasBias != 0u ? bias[co] : 0.0;
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint pix = pix0 + j * WX;
            if (pix < pixels) y[co * outPixels + (2u * (pix / nx) + py) * p.OW + 2u * (pix % nx) + px] = STORE_Y(acc[i][j] + b);
        }
    }
}
