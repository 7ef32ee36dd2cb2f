#version 450
// StyleGAN's up-sampling layer after its convolution: y = lrelu(fir ∗ x + bias[c], slope)·gain over x [C, H, W]
// zero-padded by (padY0, padY1, padX0, padX1), fir [KH, KW] applied as a true convolution (flipped, the upfirdn2d
// convention) with the gain folded in, no resampling. upfirdn2d.comp computes the same sums but tests the
// zero-insertion phase with an integer modulo per tap, which CPU drivers run as scalar divisions; here the
// taps are plain offsets.
#include "include/common.glsl"
#include "include/storage.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { X_T x[]; };
layout(std430, binding = 1) readonly buffer F { float f[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { Y_T y[]; };
layout(push_constant) uniform Params {
    uint C, H, W, OH, OW, KH, KW;
    int padY0, padX0;
    float slope, gain;
} p;

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.C * p.OH * p.OW) return;
    uint ox = i % p.OW, oy = (i / p.OW) % p.OH, c = i / (p.OW * p.OH);
    uint base = c * p.H * p.W;
    int y0 = int(oy) - p.padY0, x0 = int(ox) - p.padX0;
    float acc = 0.0;
    for (uint ky = 0; ky < p.KH; ky++) {
        int iy = y0 + int(ky);
        if (iy < 0 || iy >= int(p.H)) continue;
        uint row = base + uint(iy) * p.W;
        uint frow = (p.KH - 1u - ky) * p.KW + p.KW - 1u;
        for (uint kx = 0; kx < p.KW; kx++) {
            int ix = x0 + int(kx);
            if (ix < 0 || ix >= int(p.W)) continue;
            acc = fma(float(x[row + uint(ix)]), f[frow - kx], acc);
        }
    }
    acc += bias[c];
    y[i] = STORE_Y((acc >= 0.0 ? acc : acc * p.slope) * p.gain);
}
