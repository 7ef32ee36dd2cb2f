#version 450
// Fused scaled-dot-product attention, one invocation per (head, query): out = softmax(scale·q·kᵀ + mask)·v
// with an online softmax (running max and sum), so no [H, Lq, Lk] score matrix is stored.
// q [H, Lq, D], k and v [H, Lk, D] are read through RGBA32F texel buffers (D = 4·D4, D4 a specialization
// constant so the row lives in registers); mask [maskRows, Lk] is additive (−inf = padding), row r of the
// flattened [H·Lq] queries uses mask row r mod maskRows. A query whose keys are all masked gets zeros.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint D4 = 16;
layout(binding = 0) uniform samplerBuffer Q;
layout(binding = 1) uniform samplerBuffer K;
layout(binding = 2) uniform samplerBuffer V;
layout(std430, binding = 3) readonly buffer Mask { float mask[]; };
#ifdef Y_F16
// fp16 activations: q/k/v arrive through RGBA16F views (chosen by the host), the output is stored as fp16 (clamped).
#extension GL_EXT_shader_16bit_storage : require
layout(std430, binding = 4) writeonly buffer O { f16vec4 o[]; };
#define STORE_O(v) f16vec4(clamp((v), vec4(-65504.0), vec4(65504.0)))
#else
layout(std430, binding = 4) writeonly buffer O { vec4 o[]; };
#define STORE_O(v) (v)
#endif
layout(push_constant) uniform Params { uint H, Lq, Lk; float scale; uint hasMask, maskRows; } p;

void main() {
    uint row = LINEAR_ID(64);
    if (row >= p.H * p.Lq) return;
    uint h = row / p.Lq;
    vec4 q[D4], acc[D4];
    [[unroll]] for (uint d = 0; d < D4; d++) {
        q[d] = texelFetch(Q, int(row * D4 + d)) * p.scale;
        acc[d] = vec4(0.0);
    }
    float m = -1.0 / 0.0, l = 0.0;
    uint kvBase = h * p.Lk * D4;
    uint maskBase = (row % p.maskRows) * p.Lk;
    for (uint j = 0; j < p.Lk; j++) {
        float s = 0.0;
        [[unroll]] for (uint d = 0; d < D4; d++) s += dot(q[d], texelFetch(K, int(kvBase + j * D4 + d)));
        if (p.hasMask != 0u) s += mask[maskBase + j];
        if (isinf(s) && s < 0.0) continue;
        float mNew = max(m, s);
        float correction = exp(m - mNew), weight = exp(s - mNew);
        l = l * correction + weight;
        [[unroll]] for (uint d = 0; d < D4; d++) acc[d] = acc[d] * correction + weight * texelFetch(V, int(kvBase + j * D4 + d));
        m = mNew;
    }
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    [[unroll]] for (uint d = 0; d < D4; d++) o[row * D4 + d] = STORE_O(acc[d] * inv);
}
