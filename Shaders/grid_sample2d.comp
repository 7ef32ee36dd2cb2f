#version 450
// grid_sample 2-D bilinear (PyTorch semantics), batch 1: input [C, H, W], grid [P, 2] of (x, y) in [−1, 1],
// output [C, P]. Variants: BORDER (clamp coordinates) or zeros padding; ALIGN_CORNERS; TEXEL (input read
// through a texel buffer).
layout(local_size_x = 64) in;
#ifdef TEXEL
// The input through an RGBA32F texel buffer (vectorized gathers on CPU drivers; see matmul_vec4.comp).
layout(binding = 0) uniform samplerBuffer X;
#define LOAD_X(i) texelFetch(X, int((i) >> 2))[(i) & 3u]
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };
#define LOAD_X(i) x[i]
#endif
layout(std430, binding = 1) readonly buffer G { float grid[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint C, H, W, P; } p;

float unnormalize(float v, uint size) {
#ifdef ALIGN_CORNERS
    return (v + 1.0) * 0.5 * float(size - 1);
#else
    return ((v + 1.0) * float(size) - 1.0) * 0.5;
#endif
}

float fetch(uint c, int iy, int ix) {
    if (ix < 0 || iy < 0 || ix >= int(p.W) || iy >= int(p.H)) return 0.0;
    return LOAD_X((c * p.H + uint(iy)) * p.W + uint(ix));
}

void main() {
    uint pt = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64;
    if (pt >= p.P) return;
    float fx = unnormalize(grid[2 * pt], p.W);
    float fy = unnormalize(grid[2 * pt + 1], p.H);
#ifdef BORDER
    fx = clamp(fx, 0.0, float(p.W - 1));
    fy = clamp(fy, 0.0, float(p.H - 1));
#endif
    float x0f = floor(fx), y0f = floor(fy);
    int x0 = int(x0f), y0 = int(y0f);
    float wx = fx - x0f, wy = fy - y0f;
    for (uint c = 0; c < p.C; c++) {
        float v = fetch(c, y0, x0) * (1.0 - wx) * (1.0 - wy) + fetch(c, y0, x0 + 1) * wx * (1.0 - wy)
                + fetch(c, y0 + 1, x0) * (1.0 - wx) * wy + fetch(c, y0 + 1, x0 + 1) * wx * wy;
        y[c * p.P + pt] = v;
    }
}
