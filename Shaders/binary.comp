#version 450
// y = a ∘ b with b broadcast by repetition (b index = i mod nb): per-row bias, per-channel scale (with
// INNER > 1: b index = (i / inner) mod nb). A_F16 / B_F16 / Y_F16: fp16 storage of that operand.
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { A_T a[]; };
layout(std430, binding = 1) readonly buffer B { B_T b[]; };
layout(std430, binding = 2) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint n; uint nb; uint inner; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256;
    if (i >= p.n) return;
    float bv = float(b[(i / p.inner) % p.nb]);
#if defined(OP_ADD)
    y[i] = STORE_Y(float(a[i]) + bv);
#elif defined(OP_MUL)
    y[i] = STORE_Y(float(a[i]) * bv);
#else
#error "binary.comp needs OP_ADD or OP_MUL"
#endif
}
