#version 450
// Importance sampling, one invocation per ray: coarse depths z [M, NC] and decoded coarse samples [M·NC, stride]
// (σ first) → the coarse MipRayMarcher2 weights w [NC−1] → max_pool(2, 1, pad 1) then avg_pool(2, 1), + 0.01 →
// pdf over the inner NC−3 (+1e-5) → cdf with a leading 0 → inverse transform of the draws u [M, NF] (searchsorted
// right; den < 1e-5 → 1) between the NC−1 interval midpoints → all depths [M, NC + NF]: the coarse ones, then
// the fine ones in ascending order (the inverse CDF is monotone, so the draws are sorted first; nerf_march merges
// the two ascending runs).
#include "include/common.glsl"
#include "include/nerf.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint NC = 48;
layout(std430, binding = 0) readonly buffer Z { float zs[]; };
layout(std430, binding = 1) readonly buffer Decoded { float decoded[]; };
layout(std430, binding = 2) readonly buffer U { float draws[]; };
layout(std430, binding = 3) writeonly buffer All { float all_z[]; };
layout(push_constant) uniform Params { uint M, NF, stride; } p;

void main() {
    uint m = LINEAR_ID(64);
    if (m >= p.M) return;
    float z[NC], w[NC];
    uint row = m * (NC + p.NF);
    [[unroll]] for (uint k = 0u; k < NC; k++) { z[k] = zs[m * NC + k]; all_z[row + k] = z[k]; }
    float trans = 1.0, sigma = decoded[(m * NC) * p.stride];
    for (uint k = 0u; k + 1u < NC; k++) {
        float next = decoded[(m * NC + k + 1u) * p.stride];
        w[k] = nerf_interval(z[k], z[k + 1u], sigma, next, trans);
        sigma = next;
    }
    // pooled[k] = (max(w[k−1], w[k]) + max(w[k], w[k+1])) / 2 + 0.01 with the ends padded by w itself; the pdf
    // keeps k = 1 … NC−3 (+1e-5, written over w[k−1], already read). cdf[0] = 0, cdf[j] = Σ_{k<j} pdf.
    float total = 0.0;
    for (uint k = 1u; k + 2u < NC; k++) {
        float pooled = (max(w[k - 1u], w[k]) + max(w[k], w[k + 1u])) * 0.5 + 0.01;
        w[k - 1u] = pooled + 1e-5;
        total += w[k - 1u];
    }
    uint bins = NC - 3u;  // pdf entries; cdf has bins + 1
    float cdf[NC];
    cdf[0] = 0.0;
    float run = 0.0;
    for (uint k = 0u; k < bins; k++) { run += w[k] / total; cdf[k + 1u] = run; }
    // Insertion sort of the draws (NF ≤ 128 - NC).
    float u_sorted[128];
    for (uint j = 0u; j < p.NF; j++) {
        float u = draws[m * p.NF + j];
        uint k = j;
        while (k > 0u && u_sorted[k - 1u] > u) { u_sorted[k] = u_sorted[k - 1u]; k--; }
        u_sorted[k] = u;
    }
    for (uint j = 0u; j < p.NF; j++) {
        float u = u_sorted[j];
        uint lo = 0u, hi = bins + 1u;
        while (lo < hi) {
            uint mid = (lo + hi) >> 1;
            if (cdf[mid] <= u) lo = mid + 1u; else hi = mid;
        }
        uint below = lo > 0u ? lo - 1u : 0u, above = min(lo, bins);
        float c0 = cdf[below], c1 = cdf[above];
        float b0 = (z[below + 1u] + z[below]) * 0.5, b1 = (z[above + 1u] + z[above]) * 0.5;
        float den = c1 - c0;
        den = den < 1e-5 ? 1.0 : den;
        all_z[row + NC + j] = b0 + (u - c0) / den * (b1 - b0);
    }
}
