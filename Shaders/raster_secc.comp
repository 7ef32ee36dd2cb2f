#version 450
// SECC map (spec §4.2) from the resolved face buffer: perspective-correct interpolation of the normalised
// canonical coordinates, (ncc − 0.5)/0.5 where covered, −1 on background and on excluded (eye) faces.
// Output [3, H, W].
#include "include/common.glsl"
#include "include/raster.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Vertices { float vtx[]; };
layout(std430, binding = 1) readonly buffer Triangles { uint tri[]; };
layout(std430, binding = 2) readonly buffer Face { uint face[]; };
layout(std430, binding = 3) readonly buffer Excluded { uint excluded[]; };
layout(std430, binding = 4) readonly buffer Ncc { float ncc[]; };
layout(std430, binding = 5) writeonly buffer Out { float secc[]; };
layout(push_constant) uniform Params { uint width; uint height; float f; float cx; float cy; float distance; } p;

vec3 vertex(uint i) { return vec3(vtx[3 * i], vtx[3 * i + 1], vtx[3 * i + 2]); }

void main() {
    uint pix = LINEAR_ID(64);
    uint n = p.width * p.height;
    if (pix >= n) return;
    uint t = face[pix];
    vec3 value = vec3(-1.0);
    if (t != 0xFFFFFFFFu && excluded[t] == 0u) {
        uint i0 = tri[3 * t], i1 = tri[3 * t + 1], i2 = tri[3 * t + 2];
        Projected pr = project_triangle(vertex(i0), vertex(i1), vertex(i2), p.f, p.cx, p.cy, p.distance);
        vec2 q = vec2(float(pix % p.width) + 0.5, float(pix / p.width) + 0.5);
        vec3 l = screen_barycentrics(pr, q);
        vec3 w = l / pr.z;
        w /= (w.x + w.y + w.z);
        vec3 c = w.x * vec3(ncc[3 * i0], ncc[3 * i0 + 1], ncc[3 * i0 + 2])
               + w.y * vec3(ncc[3 * i1], ncc[3 * i1 + 1], ncc[3 * i1 + 2])
               + w.z * vec3(ncc[3 * i2], ncc[3 * i2 + 1], ncc[3 * i2 + 2]);
        value = (c - 0.5) / 0.5;
    }
    secc[pix] = value.x;
    secc[n + pix] = value.y;
    secc[2u * n + pix] = value.z;
}
