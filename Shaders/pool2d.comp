#version 450
// 2-D pooling of x [C, H, W] → [C, OH, OW] with kernel, stride and padding (PyTorch semantics):
//   MAX: padding counts as −inf;  AVG: count_include_pad=True (divisor = window clipped to the padded
//   input, as avg_pool2d's default). 1-D pooling is the H = 1 case.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params { uint C, H, W, OH, OW, KH, KW, sY, sX, pY, pX; } p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.C * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, c = i / (p.OW * p.OH);
    int y0 = int(oy * p.sY) - int(p.pY), x0 = int(ox * p.sX) - int(p.pX);
    uint base = c * p.H * p.W;
#if defined(MAX)
    float acc = -1.0 / 0.0;
#elif defined(AVG)
    float acc = 0.0;
    int yEnd = min(y0 + int(p.KH), int(p.H + p.pY)), xEnd = min(x0 + int(p.KW), int(p.W + p.pX));
    float divisor = float((yEnd - y0) * (xEnd - x0));
#else
#error "pool2d.comp needs MAX or AVG"
#endif
    for (uint ky = 0; ky < p.KH; ky++) {
        int iy = y0 + int(ky);
        if (iy < 0 || iy >= int(p.H)) continue;
        for (uint kx = 0; kx < p.KW; kx++) {
            int ix = x0 + int(kx);
            if (ix < 0 || ix >= int(p.W)) continue;
            float v = float(x[base + uint(iy) * p.W + uint(ix)]);
#if defined(MAX)
            acc = max(acc, v);
#else
            acc += v;
#endif
        }
    }
#if defined(AVG)
    acc /= divisor;
#endif
    y[i] = STORE_Y(acc);
}
