#version 450
// NeRF rays (EG3D RaySampler + ray–box slab test), one invocation per ray m = row·R + column at pixel centres:
// camera [25] (c2w [4,4] row-major, then the normalised intrinsics K [3,3] with skew) → rays [M, 8] =
// origin (3), unit direction (3), start, end; rays that miss the box [−h, h]³ get start −1, end −2 (ray_limits).
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Cam { float cam[]; };
layout(std430, binding = 1) writeonly buffer Rays { float rays[]; };
layout(push_constant) uniform Params { uint R; float half_box; } p;

void main() {
    uint m = LINEAR_ID(64);
    if (m >= p.R * p.R) return;
    float step = 1.0 / float(p.R);
    float u = float(m % p.R) * step + 0.5 * step, v = float(m / p.R) * step + 0.5 * step;
    float fx = cam[16], sk = cam[17], cx = cam[18], fy = cam[20], cy = cam[21];
    vec3 cp = vec3((u - cx + cy * sk / fy - sk * v / fy) / fx, (v - cy) / fy, 1.0);
    // world − origin = R·cp (the reference adds and subtracts the origin; the rotation alone is exact in float32)
    vec3 dir = vec3(dot(vec3(cam[0], cam[1], cam[2]), cp), dot(vec3(cam[4], cam[5], cam[6]), cp),
                    dot(vec3(cam[8], cam[9], cam[10]), cp));
    vec3 d = dir / max(length(dir), 1e-12);
    vec3 o = vec3(cam[3], cam[7], cam[11]);
    vec3 inv = 1.0 / d;
    vec3 t0 = (-p.half_box - o) * inv, t1 = (p.half_box - o) * inv;
    vec3 near = min(t0, t1), far = max(t0, t1);
    float tmin = max(max(near.x, near.y), near.z), tmax = min(min(far.x, far.y), far.z);
    bool ok = !(near.x > far.y || near.y > far.x);
    float txy0 = max(near.x, near.y), txy1 = min(far.x, far.y);
    ok = ok && !(txy0 > far.z || near.z > txy1);
    uint r = 8u * m;
    rays[r] = o.x; rays[r + 1u] = o.y; rays[r + 2u] = o.z;
    rays[r + 3u] = d.x; rays[r + 4u] = d.y; rays[r + 5u] = d.z;
    rays[r + 6u] = ok ? tmin : -1.0;
    rays[r + 7u] = ok ? tmax : -2.0;
}
