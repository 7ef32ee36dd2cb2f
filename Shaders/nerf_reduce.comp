#version 450
// The NeRF's two global reductions over all rays, one workgroup (M is 128² at most; no host round trip):
// RAY_LIMITS: rays [M, 8] → limits [M, 2] (start, end): rays without end > start get start = the minimum valid
//   start and end = the maximum valid *start* (EG3D's ray_limits quirk); unchanged when no ray is valid.
// DEPTH_CLAMP: depth [M] (NaN already +inf), per-ray sample range [M, 2] → depth clamped to the global z range.
#include "include/common.glsl"
#include "include/nerf.glsl"
layout(local_size_x = 256) in;
#ifdef RAY_LIMITS
layout(std430, binding = 0) readonly buffer Rays { float rays[]; };
layout(std430, binding = 1) writeonly buffer Limits { float limits[]; };
#else
layout(std430, binding = 0) readonly buffer Depth { float depth_in[]; };
layout(std430, binding = 1) readonly buffer Range { float range[]; };
layout(std430, binding = 2) writeonly buffer Out { float depth_out[]; };
#endif
layout(push_constant) uniform Params { uint M; } p;

shared float lows[256], highs[256];

void main() {
    uint t = gl_LocalInvocationID.x;
    float lo = NERF_INF, hi = -NERF_INF;
    for (uint m = t; m < p.M; m += 256u) {
#ifdef RAY_LIMITS
        float s = rays[8u * m + 6u], e = rays[8u * m + 7u];
        if (e > s) { lo = min(lo, s); hi = max(hi, s); }
#else
        lo = min(lo, range[2u * m]); hi = max(hi, range[2u * m + 1u]);
#endif
    }
    lows[t] = lo; highs[t] = hi;
    barrier();
    for (uint n = 128u; n > 0u; n >>= 1) {
        if (t < n) { lows[t] = min(lows[t], lows[t + n]); highs[t] = max(highs[t], highs[t + n]); }
        barrier();
    }
    lo = lows[0]; hi = highs[0];
    for (uint m = t; m < p.M; m += 256u) {
#ifdef RAY_LIMITS
        float s = rays[8u * m + 6u], e = rays[8u * m + 7u];
        if (!(e > s) && lo <= hi) { s = lo; e = hi; }
        limits[2u * m] = s; limits[2u * m + 1u] = e;
#else
        depth_out[m] = clamp(depth_in[m], lo, hi);
#endif
    }
}
