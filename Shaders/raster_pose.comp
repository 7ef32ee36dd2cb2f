#version 450
// Head pose of the face model's rig: v' = v + w·(R(v − p) − (v − p)) per vertex, with the rotation R (row-major
// 3×3) and the pivot p read from a 12-float buffer written every frame, so the recorded frame replays with new
// angles. w = 1 moves a vertex rigidly with the head, 0 keeps it (the neck's bottom).
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Vertices { float vtx[]; };
layout(std430, binding = 1) readonly buffer Weights { float weight[]; };
layout(std430, binding = 2) readonly buffer Pose { float pose[]; };
layout(std430, binding = 3) writeonly buffer Posed { float posed[]; };
layout(push_constant) uniform Params { uint vertices; } p;

void main() {
    uint v = LINEAR_ID(64);
    if (v >= p.vertices) return;
    vec3 x = vec3(vtx[3 * v], vtx[3 * v + 1], vtx[3 * v + 2]);
    vec3 d = x - vec3(pose[9], pose[10], pose[11]);
    vec3 r = vec3(dot(vec3(pose[0], pose[1], pose[2]), d),
                  dot(vec3(pose[3], pose[4], pose[5]), d),
                  dot(vec3(pose[6], pose[7], pose[8]), d));
    vec3 y = x + weight[v] * (r - d);
    posed[3 * v] = y.x;
    posed[3 * v + 1] = y.y;
    posed[3 * v + 2] = y.z;
}
