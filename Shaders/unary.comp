#version 450
// Elementwise activation, one variant per OP_* define.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint n; float alpha; float beta; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256;
    if (i >= p.n) return;
    float v = float(x[i]);
#if defined(OP_GELU)
    y[i] = STORE_Y(gelu_erf(v));
#elif defined(OP_SILU)
    y[i] = STORE_Y(v * sigmoid_stable(v));
#elif defined(OP_RELU)
    y[i] = STORE_Y(max(v, 0.0));
#elif defined(OP_LEAKY_RELU)
    // alpha: negative slope; beta: output gain (StyleGAN's lrelu·√2 uses beta = √2).
    y[i] = STORE_Y((v >= 0.0 ? v : v * p.alpha) * p.beta);
#elif defined(OP_SOFTPLUS)
    // PyTorch Softplus(beta=1, threshold=20).
    y[i] = STORE_Y(v > 20.0 ? v : log(1.0 + exp(v)));
#elif defined(OP_SIGMOID)
    y[i] = STORE_Y(sigmoid_stable(v));
#elif defined(OP_TANH)
    y[i] = STORE_Y(tanh(v));
#elif defined(OP_CLAMP)
    // alpha: lower bound; beta: upper bound.
    y[i] = STORE_Y(clamp(v, p.alpha, p.beta));
#else
#error "unary.comp needs an OP_* define"
#endif
}
