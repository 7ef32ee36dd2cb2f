#version 450
// upfirdn2d (StyleGAN2): upsample x [C, H, W] by zero insertion (upY, upX), pad by (padY0, padY1,
// padX0, padX1) (negative values crop), convolve with the FIR filter f [KH, KW] as a true convolution
// (the filter flipped), keep every (downY, downX)-th sample. The host folds any gain into f.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer F { float f[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params {
    uint C, H, W, OH, OW, KH, KW;
    uint upY, upX, downY, downX;
    int padY0, padX0;
} p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.C * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, c = i / (p.OW * p.OH);
    uint base = c * p.H * p.W;
    float acc = 0.0;
    for (uint ky = 0; ky < p.KH; ky++) {
        // Row in the upsampled (zero-inserted) signal before padding.
        int uy = int(oy * p.downY + ky) - p.padY0;
        if (uy < 0 || uy % int(p.upY) != 0) continue;
        uint iy = uint(uy) / p.upY;
        if (iy >= p.H) continue;
        for (uint kx = 0; kx < p.KW; kx++) {
            int ux = int(ox * p.downX + kx) - p.padX0;
            if (ux < 0 || ux % int(p.upX) != 0) continue;
            uint ix = uint(ux) / p.upX;
            if (ix >= p.W) continue;
            acc = fma(x[base + iy * p.W + ix], f[(p.KH - 1u - ky) * p.KW + (p.KW - 1u - kx)], acc);
        }
    }
    y[i] = acc;
}
