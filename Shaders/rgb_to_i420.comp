#version 450
// sRGB [H, W, 3] in [0, 1] → I420 (BT.601 limited range), 4 bytes per invocation: first the Y plane's words,
// then U's, then V's; chroma is the mean of each 2×2 block. Needs W a multiple of 8.
#include "include/common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Rgb { float rgb[]; };
layout(std430, binding = 1) writeonly buffer Out { uint words[]; };
layout(push_constant) uniform Params { uint width; uint height; } p;

vec3 pixel(uint x, uint y) { uint i = 3u * (y * p.width + x); return vec3(rgb[i], rgb[i + 1], rgb[i + 2]); }
uint clamp_byte(float v) { return uint(clamp(floor(v + 0.5), 0.0, 255.0)); }

void main() {
    uint w = LINEAR_ID(64);
    uint lumaWords = p.width * p.height / 4u;
    uint cw = p.width / 2u, ch = p.height / 2u;
    uint chromaWords = cw * ch / 4u;
    if (w >= lumaWords + 2u * chromaWords) return;
    uint packed = 0u;
    if (w < lumaWords) {
        uint first = 4u * w;
        for (uint k = 0u; k < 4u; ++k) {
            uint i = first + k;
            vec3 c = pixel(i % p.width, i / p.width);
            packed |= clamp_byte(16.0 + 65.481 * c.r + 128.553 * c.g + 24.966 * c.b) << (8u * k);
        }
    } else {
        uint cw4 = w - lumaWords;
        bool isV = cw4 >= chromaWords;
        uint first = 4u * (isV ? cw4 - chromaWords : cw4);
        for (uint k = 0u; k < 4u; ++k) {
            uint i = first + k;
            uint x = 2u * (i % cw), y = 2u * (i / cw);
            vec3 c = 0.25 * (pixel(x, y) + pixel(x + 1u, y) + pixel(x, y + 1u) + pixel(x + 1u, y + 1u));
            float v = isV ? 128.0 + 112.0 * c.r - 93.786 * c.g - 18.214 * c.b
                          : 128.0 - 37.797 * c.r - 74.203 * c.g + 112.0 * c.b;
            packed |= clamp_byte(v) << (8u * k);
        }
    }
    words[w] = packed;
}
