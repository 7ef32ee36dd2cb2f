#version 450
// grid_sample 3-D trilinear (PyTorch semantics), batch 1: input [C, D, H, W], grid [P, 3] of (x, y, z) in
// [−1, 1] (x indexes W, y H, z D), output [C, P]. Variants: BORDER (clamp coordinates) or zeros padding;
// ALIGN_CORNERS.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float grid[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint C, D, H, W, P; } p;

float unnormalize(float v, uint size) {
#ifdef ALIGN_CORNERS
    return (v + 1.0) * 0.5 * float(size - 1u);
#else
    return ((v + 1.0) * float(size) - 1.0) * 0.5;
#endif
}

float fetch(uint base, int iz, int iy, int ix) {
    if (ix < 0 || iy < 0 || iz < 0 || ix >= int(p.W) || iy >= int(p.H) || iz >= int(p.D)) return 0.0;
    return x[base + (uint(iz) * p.H + uint(iy)) * p.W + uint(ix)];
}

void main() {
    uint pt = LINEAR_ID(64);
    if (pt >= p.P) return;
    float fx = unnormalize(grid[3u * pt], p.W);
    float fy = unnormalize(grid[3u * pt + 1u], p.H);
    float fz = unnormalize(grid[3u * pt + 2u], p.D);
#ifdef BORDER
    fx = clamp(fx, 0.0, float(p.W - 1u));
    fy = clamp(fy, 0.0, float(p.H - 1u));
    fz = clamp(fz, 0.0, float(p.D - 1u));
#endif
    vec3 f0 = floor(vec3(fx, fy, fz));
    int x0 = int(f0.x), y0 = int(f0.y), z0 = int(f0.z);
    float wx = fx - f0.x, wy = fy - f0.y, wz = fz - f0.z;
    for (uint c = 0; c < p.C; c++) {
        uint base = c * p.D * p.H * p.W;
        float v00 = mix(fetch(base, z0, y0, x0), fetch(base, z0, y0, x0 + 1), wx);
        float v01 = mix(fetch(base, z0, y0 + 1, x0), fetch(base, z0, y0 + 1, x0 + 1), wx);
        float v10 = mix(fetch(base, z0 + 1, y0, x0), fetch(base, z0 + 1, y0, x0 + 1), wx);
        float v11 = mix(fetch(base, z0 + 1, y0 + 1, x0), fetch(base, z0 + 1, y0 + 1, x0 + 1), wx);
        y[c * p.P + pt] = mix(mix(v00, v01, wy), mix(v10, v11, wy), wz);
    }
}
