#version 450
// Final MipRayMarcher2, one invocation per ray, over the coarse and fine samples merged by depth: z [M, N] holds
// each ray's NC coarse depths then its NF fine depths, both runs ascending (nerf_importance); the two-pointer merge
// takes the coarse sample on ties (torch.sort of the concatenation, stably). Decoded
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
layout(std430, binding = 1) readonly buffer DC { float dc[]; };
layout(std430, binding = 2) readonly buffer DF { float df[]; };
layout(std430, binding = 3) writeonly buffer Feature { float feature[]; };
layout(std430, binding = 4) writeonly buffer Weights { float weights[]; };
layout(std430, binding = 5) writeonly buffer Depth { float depth[]; };
layout(std430, binding = 6) writeonly buffer Range { float range[]; };
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
    uint row = m * N, ic = 0u, jf = 0u;
    // Next merged sample: its index among the ray's samples (< NC coarse) and depth.
    float zc = zs[row], zf = zs[row + NC];
    uint s;
    float z;
    if (zc <= zf) { s = 0u; z = zc; ic = 1u; zc = ic < NC ? zs[row + ic] : NERF_INF; }
    else { s = NC; z = zf; jf = 1u; zf = jf < NF ? zs[row + NC + jf] : NERF_INF; }
    float sigma = decoded(m, s, 0u), low = z, high = z;
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) { feat[c] = 0.0; prev[c] = c < HID ? rgb(m, s, c) : 0.0; }
    float trans = 1.0, wsum = 0.0, zsum = 0.0;
    for (uint k = 1u; k < N; k++) {
        float zn;
        if (ic < NC && (jf >= NF || zc <= zf)) { s = ic; zn = zc; ic++; zc = ic < NC ? zs[row + ic] : NERF_INF; }
        else { s = NC + jf; zn = zf; jf++; zf = jf < NF ? zs[row + NC + jf] : NERF_INF; }
        float next = decoded(m, s, 0u);
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
        low = min(low, zn); high = max(high, zn);
        z = zn; sigma = next;
    }
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) if (c < HID) feature[c * p.M + m] = feat[c] * 2.0 - 1.0;
    weights[m] = wsum;
    depth[m] = wsum > 0.0 ? zsum / wsum : NERF_INF;
    range[2u * m] = low;
    range[2u * m + 1u] = high;
}
