#version 450
// Keypoint motions of the warp-based torso model (Rs = Rd = I), batch 1, over the identity grid of a
// [D, H, W] volume, g = (2·i/(n−1) − 1 for x→W, y→H, z→D). Motion 0 is the grid, motion k ≥ 1 is
// g − kd_k + ks_k; heat map 0 is zero, heat map k is exp(−½|g − kd_k|²/var) − exp(−½|g − ks_k|²/var), with
// ks/kd the selected rows of kp_s/kp_d [68, 3] (indices in the push constants).
//   MOTION_INPUT: per (motion k, voxel) writes the hourglass input [(K+1)·(1+C), D, H, W]: channel k·(1+C) is
//     heat map k, channels k·(1+C)+1+c the feature fc[c] [C, D, H, W] sampled at motion k (trilinear,
//     align_corners, zeros outside).
//   DEFORMATION: per voxel, softmax over the K+1 mask logits [K+1, D, H, W], Σ_k motion_k·mask_k, then
//     upstream's gradient-scale expression d·0.1 + d·0.9 → deformation [D·H·W, 3] (grid_sample order x, y, z).
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer KS { float kpS[]; };
layout(std430, binding = 1) readonly buffer KD { float kpD[]; };
layout(std430, binding = 2) readonly buffer Src { float src[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params {
    uint D, H, W, K, C;
    float variance;
    uint idx0, idx1, idx2, idx3, idx4, idx5, idx6, idx7, idx8;
} p;

uint landmark(uint k) {
    uint v[9] = uint[9](p.idx0, p.idx1, p.idx2, p.idx3, p.idx4, p.idx5, p.idx6, p.idx7, p.idx8);
    return v[k];
}

vec3 keypoint(uint k, bool source) {
    uint i = 3u * landmark(k);
    return source ? vec3(kpS[i], kpS[i + 1u], kpS[i + 2u]) : vec3(kpD[i], kpD[i + 1u], kpD[i + 2u]);
}

float axis(uint i, uint n) { return float(i) / float(n - 1u) * 2.0 - 1.0; }

#ifdef MOTION_INPUT
float fetch(uint base, int iz, int iy, int ix) {
    if (ix < 0 || iy < 0 || iz < 0 || ix >= int(p.W) || iy >= int(p.H) || iz >= int(p.D)) return 0.0;
    return src[base + (uint(iz) * p.H + uint(iy)) * p.W + uint(ix)];
}
#endif

void main() {
    uint voxels = p.D * p.H * p.W;
    uint i = LINEAR_ID(64);
#ifdef MOTION_INPUT
    if (i >= (p.K + 1u) * voxels) return;
    uint k = i / voxels, v = i % voxels;
#else
    if (i >= voxels) return;
    uint v = i;
#endif
    uint ix = v % p.W, iy = (v / p.W) % p.H, iz = v / (p.W * p.H);
    vec3 g = vec3(axis(ix, p.W), axis(iy, p.H), axis(iz, p.D));
#ifdef MOTION_INPUT
    vec3 m = g;
    float heat = 0.0;
    if (k > 0u) {
        vec3 s = keypoint(k - 1u, true), d = keypoint(k - 1u, false);
        vec3 ed = g - d, es = g - s;
        heat = exp(-0.5 * dot(ed, ed) / p.variance) - exp(-0.5 * dot(es, es) / p.variance);
        m = g - d + s;
    }
    uint out0 = k * (1u + p.C) * voxels + v;
    y[out0] = heat;
    // Trilinear sample, align_corners=True: index = (coordinate + 1)/2 · (size − 1).
    float fx = (m.x + 1.0) * 0.5 * float(p.W - 1u);
    float fy = (m.y + 1.0) * 0.5 * float(p.H - 1u);
    float fz = (m.z + 1.0) * 0.5 * float(p.D - 1u);
    vec3 f0 = floor(vec3(fx, fy, fz));
    int x0 = int(f0.x), y0 = int(f0.y), z0 = int(f0.z);
    float wx = fx - f0.x, wy = fy - f0.y, wz = fz - f0.z;
    for (uint c = 0; c < p.C; c++) {
        uint base = c * voxels;
        float v00 = mix(fetch(base, z0, y0, x0), fetch(base, z0, y0, x0 + 1), wx);
        float v01 = mix(fetch(base, z0, y0 + 1, x0), fetch(base, z0, y0 + 1, x0 + 1), wx);
        float v10 = mix(fetch(base, z0 + 1, y0, x0), fetch(base, z0 + 1, y0, x0 + 1), wx);
        float v11 = mix(fetch(base, z0 + 1, y0 + 1, x0), fetch(base, z0 + 1, y0 + 1, x0 + 1), wx);
        y[out0 + (1u + c) * voxels] = mix(mix(v00, v01, wy), mix(v10, v11, wy), wz);
    }
#else
    float top = src[v];
    for (uint k = 1u; k <= p.K; k++) top = max(top, src[k * voxels + v]);
    float total = 0.0;
    vec3 acc = vec3(0.0);
    for (uint k = 0u; k <= p.K; k++) {
        float e = exp(src[k * voxels + v] - top);
        total += e;
        vec3 m = k == 0u ? g : g - keypoint(k - 1u, false) + keypoint(k - 1u, true);
        acc += m * e;
    }
    vec3 d = acc / total;
    d = d * 0.1 + d * 0.9;
    y[3u * v] = d.x;
    y[3u * v + 1u] = d.y;
    y[3u * v + 2u] = d.z;
#endif
}
