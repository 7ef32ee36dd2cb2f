#version 450
// Row normalization over the last dimension D, one workgroup per row.
//   LAYER_NORM: (x − mean)/√(var + eps)·γ + β
//   L2_NORM:    x / max(‖x‖₂, eps)·scale·γ (F.normalize-style RMS norm of the A2M transformer)
//   RMS_NORM:   x / √(mean(x²) + eps)·scale·γ (torch.nn.RMSNorm-style)
// X_F16 / Y_F16: fp16 activations; the statistics are summed in fp32 from widened loads (an fp16 sum of
// squares overflows past |x| ≈ 256).
#include "include/storage.glsl"
layout(local_size_x = 128) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, binding = 2) readonly buffer Bt { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint rows; uint D; float eps; float scale; uint hasBeta; } p;

shared float s1[128];
shared float s2[128];

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint base = row * p.D;
    float a = 0.0, b = 0.0;
    for (uint i = t; i < p.D; i += 128) { float v = float(x[base + i]); a += v; b += v * v; }
    s1[t] = a; s2[t] = b;
    barrier();
    for (uint s = 64; s > 0; s >>= 1) {
        if (t < s) { s1[t] += s1[t + s]; s2[t] += s2[t + s]; }
        barrier();
    }
#if defined(LAYER_NORM)
    float mean = s1[0] / float(p.D);
    float var = max(s2[0] / float(p.D) - mean * mean, 0.0);
    float inv = inversesqrt(var + p.eps);
    for (uint i = t; i < p.D; i += 128) {
        float v = (float(x[base + i]) - mean) * inv * gamma[i];
        y[base + i] = STORE_Y(p.hasBeta != 0u ? v + beta[i] : v);
    }
#elif defined(L2_NORM)
    float inv = p.scale / max(sqrt(s2[0]), p.eps);
    for (uint i = t; i < p.D; i += 128) {
        float v = float(x[base + i]) * inv * gamma[i];
        y[base + i] = STORE_Y(p.hasBeta != 0u ? v + beta[i] : v);
    }
#elif defined(RMS_NORM)
    float inv = p.scale * inversesqrt(s2[0] / float(p.D) + p.eps);
    for (uint i = t; i < p.D; i += 128) {
        float v = float(x[base + i]) * inv * gamma[i];
        y[base + i] = STORE_Y(p.hasBeta != 0u ? v + beta[i] : v);
    }
#else
#error "norm.comp needs LAYER_NORM, L2_NORM or RMS_NORM"
#endif
}
