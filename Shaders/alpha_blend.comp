#version 450
// Per-pixel alpha compositing of [C, H, W] images with an alpha [1, H, W] broadcast over channels (the
// super-resolution's head/torso and foreground/background fusion), one variant per define:
//   MIX          y = x·a + t·(1 − a)                               (X, T: [cx, P])
//   SPLIT        y = cat(x·a, t·(1 − a)) along channels            (X: [cx, P], T: [ct, P] → [cx + ct, P])
//   PERSON_ALPHA y = clamp(o + (a > threshold ? 1 : a), 0, 1)      (X = o, the torso alpha [1, P])
#include "include/common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#if defined(MIX) || defined(SPLIT)
layout(std430, binding = 3) readonly buffer T { float t[]; };
#endif
layout(push_constant) uniform Params { uint pixels, cx, ct; float threshold; } p;

void main() {
    uint i = LINEAR_ID(256);
#if defined(MIX)
    if (i >= p.cx * p.pixels) return;
    float av = a[i % p.pixels];
    y[i] = x[i] * av + t[i] * (1.0 - av);
#elif defined(SPLIT)
    uint head = p.cx * p.pixels;
    if (i >= head + p.ct * p.pixels) return;
    float av = a[i % p.pixels];
    y[i] = i < head ? x[i] * av : t[i - head] * (1.0 - av);
#elif defined(PERSON_ALPHA)
    if (i >= p.pixels) return;
    float av = a[i];
    y[i] = clamp(x[i] + (av > p.threshold ? 1.0 : av), 0.0, 1.0);
#else
#error "alpha_blend.comp needs MIX, SPLIT or PERSON_ALPHA"
#endif
}
