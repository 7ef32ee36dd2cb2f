#version 450
#include "include/storage.glsl"
// Direct 2-D convolution, NCHW, batch 1: groups, stride, zero padding, optional bias. One invocation per
// output element; weights [Cout, Cin/groups, KH, KW] as in PyTorch. X_F16 / Y_F16: fp16 activations.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params {
    uint Cin, H, W, Cout, OH, OW, KH, KW;
    uint strideY, strideX, padY, padX, groups, hasBias;
} p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64;
    if (i >= p.Cout * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, co = i / (p.OW * p.OH);
    uint cinPerGroup = p.Cin / p.groups, coutPerGroup = p.Cout / p.groups;
    uint g = co / coutPerGroup;
    float acc = p.hasBias != 0u ? bias[co] : 0.0;
    for (uint ci = 0; ci < cinPerGroup; ci++) {
        uint c = g * cinPerGroup + ci;
        for (uint ky = 0; ky < p.KH; ky++) {
            int iy = int(oy * p.strideY + ky) - int(p.padY);
            if (iy < 0 || iy >= int(p.H)) continue;
            for (uint kx = 0; kx < p.KW; kx++) {
                int ix = int(ox * p.strideX + kx) - int(p.padX);
                if (ix < 0 || ix >= int(p.W)) continue;
                acc = fma(float(x[(c * p.H + uint(iy)) * p.W + uint(ix)]), w[((co * cinPerGroup + ci) * p.KH + ky) * p.KW + kx], acc);
            }
        }
    }
    y[i] = STORE_Y(acc);
}
