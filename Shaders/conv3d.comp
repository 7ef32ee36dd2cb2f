#version 450
// Direct 3-D convolution, batch 1: x [Cin, D, H, W], weight [Cout, Cin/groups, KD, KH, KW], optional bias,
// per-axis stride and zero padding, groups. One invocation per output element.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params {
    uint Cin, D, H, W, Cout, OD, OH, OW;
    uint KD, KH, KW, sD, sH, sW, pD, pH, pW, groups, hasBias;
} p;

void main() {
    uint i = LINEAR_ID(64);
    uint plane = p.OD * p.OH * p.OW;
    if (i >= p.Cout * plane) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, oz = (i / (p.OW * p.OH)) % p.OD, co = i / plane;
    uint cinPerGroup = p.Cin / p.groups, coutPerGroup = p.Cout / p.groups;
    uint g = co / coutPerGroup;
    float acc = p.hasBias != 0u ? bias[co] : 0.0;
    for (uint ci = 0; ci < cinPerGroup; ci++) {
        uint c = g * cinPerGroup + ci;
        for (uint kz = 0; kz < p.KD; kz++) {
            int iz = int(oz * p.sD + kz) - int(p.pD);
            if (iz < 0 || iz >= int(p.D)) continue;
            for (uint ky = 0; ky < p.KH; ky++) {
                int iy = int(oy * p.sH + ky) - int(p.pH);
                if (iy < 0 || iy >= int(p.H)) continue;
                uint xRow = ((c * p.D + uint(iz)) * p.H + uint(iy)) * p.W;
                uint wRow = (((co * cinPerGroup + ci) * p.KD + kz) * p.KH + ky) * p.KW;
                for (uint kx = 0; kx < p.KW; kx++) {
                    int ix = int(ox * p.sW + kx) - int(p.pW);
                    if (ix < 0 || ix >= int(p.W)) continue;
                    acc = fma(x[xRow + uint(ix)], w[wRow + kx], acc);
                }
            }
        }
    }
    y[i] = acc;
}
