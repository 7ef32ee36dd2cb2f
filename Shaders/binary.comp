#version 450
// y = a ∘ b with b broadcast by repetition (b index = i mod nb): per-row bias, per-channel scale (with
// INNER > 1: b index = (i / inner) mod nb).
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint n; uint nb; uint inner; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256;
    if (i >= p.n) return;
    float bv = b[(i / p.inner) % p.nb];
#if defined(OP_ADD)
    y[i] = a[i] + bv;
#elif defined(OP_MUL)
    y[i] = a[i] * bv;
#else
#error "binary.comp needs OP_ADD or OP_MUL"
#endif
}
