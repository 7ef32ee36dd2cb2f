#version 450
// Direct 1-D convolution, batch 1: x [Cin, L], weight [Cout, Cin/groups, K] (PyTorch layout), optional
// bias, stride, zero padding, dilation, groups (depthwise k31, grouped k128). One invocation per output.
// X_F16 / Y_F16: fp16 activations (weights fp32), fp32 accumulation.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint Cin, L, Cout, OL, K, stride, pad, dilation, groups, hasBias; } p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.Cout * p.OL) return;
    uint ol = i % p.OL, co = i / p.OL;
    uint cinPerGroup = p.Cin / p.groups, coutPerGroup = p.Cout / p.groups;
    uint g = co / coutPerGroup;
    float acc = p.hasBias != 0u ? bias[co] : 0.0;
    for (uint ci = 0; ci < cinPerGroup; ci++) {
        uint xBase = (g * cinPerGroup + ci) * p.L, wBase = (co * cinPerGroup + ci) * p.K;
        for (uint k = 0; k < p.K; k++) {
            int il = int(ol * p.stride + k * p.dilation) - int(p.pad);
            if (il < 0 || il >= int(p.L)) continue;
            acc = fma(float(x[xBase + uint(il)]), w[wBase + k], acc);
        }
    }
    y[i] = STORE_Y(acc);
}
