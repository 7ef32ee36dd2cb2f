#version 450
// 2-D resize of x [C, H, W] to [C, OH, OW] with PyTorch's conventions (scale = input / output size):
//   BILINEAR               align_corners=False: src = (dst + ½)·scale − ½, clamped at 0
//   BILINEAR ALIGN_CORNERS src = dst·(in − 1)/(out − 1)
//   ANTIALIAS              bilinear with antialias=True (triangle filter widened by the scale when
//                          downscaling, weights normalized; align_corners=False)
//   NEAREST                src = floor(dst·scale) (mode='nearest')
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint C, H, W, OH, OW; } p;

#if defined(BILINEAR)
float source(uint dst, uint inSize, uint outSize) {
#ifdef ALIGN_CORNERS
    return outSize > 1u ? float(dst) * float(inSize - 1u) / float(outSize - 1u) : 0.0;
#else
    return max((float(dst) + 0.5) * (float(inSize) / float(outSize)) - 0.5, 0.0);
#endif
}
#endif

#if defined(ANTIALIAS)
// Window [lo, lo + n) and weights of output index `dst` along one axis.
const uint MAX_TAPS = 64u;
uint window(uint dst, uint inSize, uint outSize, out uint lo, out float weights[MAX_TAPS]) {
    float scale = float(inSize) / float(outSize);
    float support = scale >= 1.0 ? scale : 1.0;
    float invScale = scale >= 1.0 ? 1.0 / scale : 1.0;
    float center = scale * (float(dst) + 0.5);
    int xmin = max(int(center - support + 0.5), 0);
    int xmax = min(int(center + support + 0.5), int(inSize));
    uint n = uint(max(xmax - xmin, 0));
    n = min(n, MAX_TAPS);
    float total = 0.0;
    for (uint j = 0; j < n; j++) {
        float d = abs((float(j) + float(xmin) - center + 0.5) * invScale);
        float w = d < 1.0 ? 1.0 - d : 0.0;
        weights[j] = w;
        total += w;
    }
    for (uint j = 0; j < n; j++) weights[j] = total != 0.0 ? weights[j] / total : 0.0;
    lo = uint(xmin);
    return n;
}
#endif

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.C * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, c = i / (p.OW * p.OH);
    uint base = c * p.H * p.W;
#if defined(NEAREST)
    uint sy = min(uint(floor(float(oy) * (float(p.H) / float(p.OH)))), p.H - 1u);
    uint sx = min(uint(floor(float(ox) * (float(p.W) / float(p.OW)))), p.W - 1u);
    y[i] = x[base + sy * p.W + sx];  // X_T and Y_T are one type in every variant
#elif defined(BILINEAR)
    float fy = source(oy, p.H, p.OH), fx = source(ox, p.W, p.OW);
    uint y0 = min(uint(fy), p.H - 1u), x0 = min(uint(fx), p.W - 1u);
    uint y1 = min(y0 + 1u, p.H - 1u), x1 = min(x0 + 1u, p.W - 1u);
    float ly = fy - float(y0), lx = fx - float(x0);
    float top = mix(float(x[base + y0 * p.W + x0]), float(x[base + y0 * p.W + x1]), lx);
    float bottom = mix(float(x[base + y1 * p.W + x0]), float(x[base + y1 * p.W + x1]), lx);
    y[i] = STORE_Y(mix(top, bottom, ly));
#elif defined(ANTIALIAS)
    uint ylo, xlo;
    float wy[MAX_TAPS], wx[MAX_TAPS];
    uint ny = window(oy, p.H, p.OH, ylo, wy);
    uint nx = window(ox, p.W, p.OW, xlo, wx);
    float acc = 0.0;
    for (uint a = 0; a < ny; a++) {
        float row = 0.0;
        for (uint b = 0; b < nx; b++) row += float(x[base + (ylo + a) * p.W + xlo + b]) * wx[b];
        acc += row * wy[a];
    }
    y[i] = STORE_Y(acc);
#else
#error "resize.comp needs NEAREST, BILINEAR or ANTIALIAS"
#endif
}
