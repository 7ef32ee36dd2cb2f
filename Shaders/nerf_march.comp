#version 450
// Final MipRayMarcher2, one invocation per ray: coarse z [M, NC] and fine z [M, NF] with their decoded samples
// ([M·NC, 1 + HID] and [M·NF, 1 + HID], σ first) are merged in ascending depth (stable: coarse before fine on
// ties) and marched → feature [HID, M] (Σ w·mid_rgb · 2 − 1), weights [M] (Σ w), depth [M] (Σ w·mid_z / Σ w, NaN →
// +inf; the global clamp follows in nerf_reduce) and the ray's sample range [M, 2] (min z, max z).
#include "include/common.glsl"
#include "include/nerf.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HID = 32;
layout(constant_id = 1) const uint NC = 48;
layout(constant_id = 2) const uint NF = 48;
layout(std430, binding = 0) readonly buffer ZC { float zc[]; };
layout(std430, binding = 1) readonly buffer ZF { float zf[]; };
layout(std430, binding = 2) readonly buffer DC { float dc[]; };
layout(std430, binding = 3) readonly buffer DF { float df[]; };
layout(std430, binding = 4) writeonly buffer Feature { float feature[]; };
layout(std430, binding = 5) writeonly buffer Weights { float weights[]; };
layout(std430, binding = 6) writeonly buffer Depth { float depth[]; };
layout(std430, binding = 7) writeonly buffer Range { float range[]; };
layout(push_constant) uniform Params { uint M; } p;

const uint N = NC + NF;

// Row of decoded sample `s` (< NC: coarse, else fine) of ray m, channel ch (0 = σ).
float decoded(uint m, uint s, uint ch) {
    return s < NC ? dc[(m * NC + s) * (HID + 1u) + ch] : df[(m * NF + s - NC) * (HID + 1u) + ch];
}

void main() {
    uint m = LINEAR_ID(64);
    if (m >= p.M) return;
    float z[N];
    uint src[N];
    for (uint k = 0u; k < NC; k++) { z[k] = zc[m * NC + k]; src[k] = k; }
    for (uint k = 0u; k < NF; k++) { z[NC + k] = zf[m * NF + k]; src[NC + k] = NC + k; }
    // Insertion sort (stable; the coarse half is already ascending, so this costs ≈ NF·N/2 moves).
    for (uint i = 1u; i < N; i++) {
        float key = z[i];
        uint ks = src[i], j = i;
        while (j > 0u && z[j - 1u] > key) { z[j] = z[j - 1u]; src[j] = src[j - 1u]; j--; }
        z[j] = key; src[j] = ks;
    }
    float feat[HID];
    [[unroll]] for (uint c = 0u; c < HID; c++) feat[c] = 0.0;
    float trans = 1.0, wsum = 0.0, zsum = 0.0, sigma = decoded(m, src[0], 0u);
    for (uint k = 0u; k + 1u < N; k++) {
        uint a = src[k], b = src[k + 1u];
        float next = decoded(m, b, 0u);
        float w = nerf_interval(z[k], z[k + 1u], sigma, next, trans);
        sigma = next;
        [[unroll]] for (uint c = 0u; c < HID; c++) feat[c] += w * ((decoded(m, b, 1u + c) + decoded(m, a, 1u + c)) * 0.5);
        wsum += w;
        zsum += w * ((z[k + 1u] + z[k]) * 0.5);
    }
    [[unroll]] for (uint c = 0u; c < HID; c++) feature[c * p.M + m] = feat[c] * 2.0 - 1.0;
    weights[m] = wsum;
    depth[m] = wsum > 0.0 ? zsum / wsum : NERF_INF;
    range[2u * m] = z[0];
    range[2u * m + 1u] = z[N - 1u];
}
