#version 450
// Resets the depth and face buffers of the rasterizer to "nothing" (all ones).
#include "include/common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Depth { uint depth[]; };
layout(std430, binding = 1) writeonly buffer Face { uint face[]; };
layout(push_constant) uniform Params { uint n; } p;

void main() {
    uint i = LINEAR_ID(256);
    if (i >= p.n) return;
    depth[i] = 0xFFFFFFFFu;
    face[i] = 0xFFFFFFFFu;
}
