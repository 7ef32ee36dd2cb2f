#version 450
// Transposed 2-D convolution (the gradient of conv2d), batch 1: x [Cin, H, W], weight
// [Cin, Cout/groups, KH, KW] (PyTorch layout), stride, padding, output padding, groups, optional bias.
// Gather form: output (oy, ox) takes input (iy, ix) through tap (ky, kx) when oy + pad − ky = iy·stride.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params {
    uint Cin, H, W, Cout, OH, OW, KH, KW;
    uint strideY, strideX, padY, padX, groups, hasBias;
} p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.Cout * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, co = i / (p.OW * p.OH);
    uint cinPerGroup = p.Cin / p.groups, coutPerGroup = p.Cout / p.groups;
    uint g = co / coutPerGroup, cog = co % coutPerGroup;
    float acc = p.hasBias != 0u ? bias[co] : 0.0;
    for (uint ky = 0; ky < p.KH; ky++) {
        int ty = int(oy + p.padY) - int(ky);
        if (ty < 0 || ty % int(p.strideY) != 0) continue;
        uint iy = uint(ty) / p.strideY;
        if (iy >= p.H) continue;
        for (uint kx = 0; kx < p.KW; kx++) {
            int tx = int(ox + p.padX) - int(kx);
            if (tx < 0 || tx % int(p.strideX) != 0) continue;
            uint ix = uint(tx) / p.strideX;
            if (ix >= p.W) continue;
            for (uint ci = 0; ci < cinPerGroup; ci++) {
                uint c = g * cinPerGroup + ci;
                acc = fma(x[(c * p.H + iy) * p.W + ix], w[((c * coutPerGroup + cog) * p.KH + ky) * p.KW + kx], acc);
            }
        }
    }
    y[i] = acc;
}
