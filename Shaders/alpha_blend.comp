#version 450
// Per-pixel alpha compositing of [C, H, W] images with an alpha [1, H, W] broadcast over channels (the
// super-resolution's head/torso and foreground/background fusion), one variant per define:
//   MIX          y = x·a + t·(1 − a)                               (X, T: [cx, P])
//   SPLIT        y = cat(x·a, t·(1 − a)) along channels            (X: [cx, P], T: [ct, P] → [cx + ct, P])
//   PERSON_ALPHA y = clamp(o + (a > threshold ? 1 : a), 0, 1)      (X = o, the torso alpha [1, P])
// X_F16 / Y_F16: x, t and y in fp16 storage; the alpha stays fp32 (the fusion masks and the threshold compare).
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer X { X_T x[]; };
layout(std430, binding = 2) writeonly buffer Y { Y_T y[]; };
#if defined(MIX) || defined(SPLIT)
layout(std430, binding = 3) readonly buffer T { X_T t[]; };
#endif
layout(push_constant) uniform Params { uint pixels, cx, ct; float threshold; } p;

void main() {
    uint i = LINEAR_ID(256);
#if defined(MIX)
    if (i >= p.cx * p.pixels) return;
    float av = a[i % p.pixels];
    y[i] = STORE_Y(float(x[i]) * av + float(t[i]) * (1.0 - av));
#elif defined(SPLIT)
    uint head = p.cx * p.pixels;
    if (i >= head + p.ct * p.pixels) return;
    float av = a[i % p.pixels];
    y[i] = STORE_Y(i < head ? float(x[i]) * av : float(t[i - head]) * (1.0 - av));
#elif defined(PERSON_ALPHA)
    if (i >= p.pixels) return;
    float av = a[i];
    y[i] = STORE_Y(clamp(float(x[i]) + (av > p.threshold ? 1.0 : av), 0.0, 1.0));
#else
#error "alpha_blend.comp needs MIX, SPLIT or PERSON_ALPHA"
#endif
}
