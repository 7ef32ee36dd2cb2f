#version 450
// Per-vertex normals: the normalised sum of the adjacent faces' cross((b − a), (c − a)) (area-weighted), over
// a host-built vertex → faces adjacency (CSR), so no float atomics are needed.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Vertices { float vtx[]; };
layout(std430, binding = 1) readonly buffer Triangles { uint tri[]; };
layout(std430, binding = 2) readonly buffer Offsets { uint offsets[]; };
layout(std430, binding = 3) readonly buffer Adjacent { uint adjacent[]; };
layout(std430, binding = 4) writeonly buffer Normals { float normals[]; };
layout(push_constant) uniform Params { uint vertices; } p;

vec3 vertex(uint i) { return vec3(vtx[3 * i], vtx[3 * i + 1], vtx[3 * i + 2]); }

void main() {
    uint v = LINEAR_ID(64);
    if (v >= p.vertices) return;
    vec3 n = vec3(0.0);
    for (uint k = offsets[v]; k < offsets[v + 1]; ++k) {
        uint t = adjacent[k];
        vec3 a = vertex(tri[3 * t]), b = vertex(tri[3 * t + 1]), c = vertex(tri[3 * t + 2]);
        n += cross(b - a, c - a);
    }
    n /= max(length(n), 1e-12);
    normals[3 * v] = n.x;
    normals[3 * v + 1] = n.y;
    normals[3 * v + 2] = n.z;
}
