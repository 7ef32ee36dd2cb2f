#version 450
// Row L2 normalization with one invocation per row: no shared memory and no barriers, which makes many short
// rows cheap on CPU devices (lavapipe), where norm.comp's workgroup-per-row reduction costs a coroutine
// switch per barrier. Used by the A2M transformer (AdaRMS norms over dim, per-head q/k norms over dim_head).
//   ROW_L2_NORM:    y[r, i] = x[r, i] / max(‖x[r]‖₂, eps)·scale·γ[i] (+ β[i])            x, y [rows, D]
//   ROW_LAYER_NORM: y[r, i] = (x[r, i] − mean)/√(var + eps)·γ[i] (+ β[i]), two-pass mean and variance (the
//                   motion adapter's 16384 token rows of 32 channels)
//   QK_NORM_ROTARY: row r = (s·heads + h)·L + l reads x at (s·L + l)·rowStride + offset + h·D + i (one head's
//                   part of a fused qkv row); u = x / max(‖x‖₂, eps)·γ[h, i]·scale; then rotate-half rotary
//                   with host tables cos, sin [L, D/2] at position l; y [rows, D] ([s, heads, L, D]).
// X_F16 / Y_F16: fp16 activations, the norm summed in fp32.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer G { float gamma[]; };
#if defined(ROW_L2_NORM) || defined(ROW_LAYER_NORM)
layout(std430, binding = 2) readonly buffer Bt { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint rows; uint D; float eps; float scale; uint hasBeta; } p;
#elif defined(QK_NORM_ROTARY)
layout(std430, binding = 2) readonly buffer Cos { float cosTable[]; };
layout(std430, binding = 3) readonly buffer Sin { float sinTable[]; };
layout(std430, binding = 4) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint rows; uint D; uint heads; uint L; uint rowStride; uint offset; float eps; float scale; } p;
#else
#error "row_norm.comp needs ROW_L2_NORM, ROW_LAYER_NORM or QK_NORM_ROTARY"
#endif

void main() {
    uint r = LINEAR_ID(64);
    if (r >= p.rows) return;
#if defined(ROW_L2_NORM)
    uint base = r * p.D;
    float ss = 0.0;
    for (uint i = 0u; i < p.D; i++) { float v = float(x[base + i]); ss += v * v; }
    float n = max(sqrt(ss), p.eps);
    for (uint i = 0u; i < p.D; i++) {
        float v = float(x[base + i]) / n * p.scale * gamma[i];
        y[base + i] = STORE_Y(p.hasBeta != 0u ? v + beta[i] : v);
    }
#elif defined(ROW_LAYER_NORM)
    uint base = r * p.D;
    float sum = 0.0;
    for (uint i = 0u; i < p.D; i++) sum += float(x[base + i]);
    float mean = sum / float(p.D), ss = 0.0;
    for (uint i = 0u; i < p.D; i++) { float dv = float(x[base + i]) - mean; ss += dv * dv; }
    float inv = inversesqrt(ss / float(p.D) + p.eps);
    for (uint i = 0u; i < p.D; i++) {
        float v = (float(x[base + i]) - mean) * inv * gamma[i];
        y[base + i] = STORE_Y(p.hasBeta != 0u ? v + beta[i] : v);
    }
#else
    uint l = r % p.L, h = (r / p.L) % p.heads, s = r / (p.L * p.heads);
    uint src = (s * p.L + l) * p.rowStride + p.offset + h * p.D;
    uint g = h * p.D, half_ = p.D / 2u, t = l * half_, dst = r * p.D;
    float ss = 0.0;
    for (uint i = 0u; i < p.D; i++) { float v = float(x[src + i]); ss += v * v; }
    float n = max(sqrt(ss), p.eps);
    for (uint j = 0u; j < half_; j++) {
        float a = float(x[src + j]) / n * gamma[g + j] * p.scale;
        float b = float(x[src + half_ + j]) / n * gamma[g + half_ + j] * p.scale;
        float c = cosTable[t + j], sn = sinTable[t + j];
        y[dst + j] = STORE_Y(a * c - b * sn);
        y[dst + half_ + j] = STORE_Y(b * c + a * sn);
    }
#endif
}
