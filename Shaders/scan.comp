#version 450
// Cumulative sum or product along rows of x [rows, D] (one invocation per row; rows are short, e.g. the
// 47–96 samples of a ray). EXCLUSIVE shifts by one (first output = identity), as the ray marcher's
// transmittance T = cumprod(1 − α + 1e-10) exclusive.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint rows, D, exclusive; } p;

void main() {
    uint r = LINEAR_ID(64);
    if (r >= p.rows) return;
#if defined(SUM)
    float acc = 0.0;
#elif defined(PRODUCT)
    float acc = 1.0;
#else
#error "scan.comp needs SUM or PRODUCT"
#endif
    for (uint i = 0; i < p.D; i++) {
        float v = x[r * p.D + i];
        if (p.exclusive != 0u) y[r * p.D + i] = acc;
#if defined(SUM)
        acc += v;
#else
        acc *= v;
#endif
        if (p.exclusive == 0u) y[r * p.D + i] = acc;
    }
}
