#version 450
// One invocation per triangle, looping over the pixel centres of its bounding box.
// PASS_DEPTH: nearest depth per pixel (atomicMin on the bits of z' > 0, which order like the floats).
// PASS_FACE: among fragments at exactly that depth, the lowest triangle index (the reference's tie rule).
#include "include/common.glsl"
#include "include/raster.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Vertices { float vtx[]; };
layout(std430, binding = 1) readonly buffer Triangles { uint tri[]; };
layout(std430, binding = 2) buffer Depth { uint depth[]; };
layout(std430, binding = 3) buffer Face { uint face[]; };
layout(push_constant) uniform Params { uint triangles; uint width; uint height; float f; float cx; float cy; float distance; } p;

vec3 vertex(uint i) { return vec3(vtx[3 * i], vtx[3 * i + 1], vtx[3 * i + 2]); }

void main() {
    uint t = LINEAR_ID(64);
    if (t >= p.triangles) return;
    Projected pr = project_triangle(vertex(tri[3 * t]), vertex(tri[3 * t + 1]), vertex(tri[3 * t + 2]), p.f, p.cx, p.cy, p.distance);
    if (pr.area == 0.0 || min(pr.z.x, min(pr.z.y, pr.z.z)) <= 0.0) return;
    float minx = min(pr.p[0].x, min(pr.p[1].x, pr.p[2].x)), maxx = max(pr.p[0].x, max(pr.p[1].x, pr.p[2].x));
    float miny = min(pr.p[0].y, min(pr.p[1].y, pr.p[2].y)), maxy = max(pr.p[0].y, max(pr.p[1].y, pr.p[2].y));
    int x0 = max(int(ceil(minx - 0.5)), 0), x1 = min(int(floor(maxx - 0.5)), int(p.width) - 1);
    int y0 = max(int(ceil(miny - 0.5)), 0), y1 = min(int(floor(maxy - 0.5)), int(p.height) - 1);
    for (int y = y0; y <= y1; ++y) {
        for (int x = x0; x <= x1; ++x) {
            vec3 l = screen_barycentrics(pr, vec2(float(x) + 0.5, float(y) + 0.5));
            if (l.x < 0.0 || l.y < 0.0 || l.z < 0.0) continue;
            float z = 1.0 / (l.x / pr.z.x + l.y / pr.z.y + l.z / pr.z.z);
            uint pix = uint(y) * p.width + uint(x);
#if defined(PASS_DEPTH)
            atomicMin(depth[pix], floatBitsToUint(z));
#elif defined(PASS_FACE)
            if (floatBitsToUint(z) == depth[pix]) atomicMin(face[pix], t);
#else
#error "raster_triangles.comp needs PASS_DEPTH or PASS_FACE"
#endif
        }
    }
}
