#version 450
// Final MipRayMarcher2, one invocation per ray, over the merged samples already sorted by depth (sort_rows):
// z [M, N] ascending with their source indices [M, N] (< NC: coarse sample, else fine sample − NC), decoded
// samples [M·NC, 1 + HID] and [M·NF, 1 + HID] (raw decoder output, σ first) → feature [HID, M] (Σ w·mid_rgb · 2 − 1), weights [M] (Σ w),
// depth [M] (Σ w·mid_z / Σ w; NaN → +inf, the global clamp follows in nerf_reduce) and the ray's sample range
// [M, 2]. Channel vectors are MAX_HID-sized with guards, so they unroll into registers.
#include "include/common.glsl"
#include "include/nerf.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HID = 32;
layout(constant_id = 1) const uint NC = 48;
layout(constant_id = 2) const uint NF = 48;
layout(std430, binding = 0) readonly buffer Z { float zs[]; };
layout(std430, binding = 1) readonly buffer Src { uint sources[]; };
layout(std430, binding = 2) readonly buffer DC { float dc[]; };
layout(std430, binding = 3) readonly buffer DF { float df[]; };
layout(std430, binding = 4) writeonly buffer Feature { float feature[]; };
layout(std430, binding = 5) writeonly buffer Weights { float weights[]; };
layout(std430, binding = 6) writeonly buffer Depth { float depth[]; };
layout(std430, binding = 7) writeonly buffer Range { float range[]; };
layout(push_constant) uniform Params { uint M; } p;

const uint N = NC + NF;

// Decoder output ch (0 = σ, else an rgb logit) of merged sample s of ray m.
float decoded(uint m, uint s, uint ch) {
    return s < NC ? dc[(m * NC + s) * (HID + 1u) + ch] : df[(m * NF + s - NC) * (HID + 1u) + ch];
}

// OSGDecoder's rgb: sigmoid·(1 + 2·0.001) − 0.001.
float rgb(uint m, uint s, uint c) { return sigmoid_stable(decoded(m, s, 1u + c)) * 1.002 - 0.001; }

void main() {
    uint m = LINEAR_ID(64);
    if (m >= p.M) return;
    float feat[MAX_HID], prev[MAX_HID];
    uint s = sources[m * N];
    float z = zs[m * N], sigma = decoded(m, s, 0u);
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) { feat[c] = 0.0; prev[c] = c < HID ? rgb(m, s, c) : 0.0; }
    float trans = 1.0, wsum = 0.0, zsum = 0.0;
    for (uint k = 1u; k < N; k++) {
        s = sources[m * N + k];
        float zn = zs[m * N + k], next = decoded(m, s, 0u);
        float w = nerf_interval(z, zn, sigma, next, trans);
        [[unroll]] for (uint c = 0u; c < MAX_HID; c++) {
            if (c < HID) {
                float v = rgb(m, s, c);
                feat[c] += w * ((v + prev[c]) * 0.5);
                prev[c] = v;
            }
        }
        wsum += w;
        zsum += w * ((zn + z) * 0.5);
        z = zn; sigma = next;
    }
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) if (c < HID) feature[c * p.M + m] = feat[c] * 2.0 - 1.0;
    weights[m] = wsum;
    depth[m] = wsum > 0.0 ? zsum / wsum : NERF_INF;
    range[2u * m] = zs[m * N];
    range[2u * m + 1u] = z;
}
