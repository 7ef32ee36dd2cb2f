#version 450
// Shaded preview (tools/demo/raster_ref.py `shade`): per output pixel, SS×SS samples of the supersampled face
// buffer, each lit with wrapped Lambert + Blinn-Phong from three lights on per-vertex linear albedo, the mouth
// interior darkened with depth behind the lips, a vertical background gradient; the samples are averaged in
// linear light and converted to sRGB once per pixel (the numpy reference converts per sample: the difference is
// confined to anti-aliased edges and is below one 8-bit step elsewhere). Output: sRGB in [0, 1], [H, W, 3].
#include "include/common.glsl"
#include "include/raster.glsl"
layout(local_size_x = 64) in;
// Inputs are uniform texel buffers with one scalar per texel (R32F / R32UI): a face pixel gathers 36 values,
// and lavapipe bounds-checks storage-buffer loads one lane at a time but fetches texels vectorized.
layout(binding = 0) uniform samplerBuffer Vertices;
layout(binding = 1) uniform usamplerBuffer Triangles;
layout(binding = 2) uniform usamplerBuffer Face;
layout(binding = 3) uniform samplerBuffer Normals;
layout(binding = 4) uniform samplerBuffer Albedo;
layout(binding = 5) uniform samplerBuffer Material;  // per vertex: specular, region id
layout(std430, binding = 6) writeonly buffer Out { float rgb[]; };
layout(push_constant) uniform Params {
    uint width; uint height; uint ss; float f; float cx; float cy; float distance; float zLip;
    float bgR; float bgG; float bgB;
} p;

vec3 fetch3(samplerBuffer b, uint i) {
    int k = int(3u * i);
    return vec3(texelFetch(b, k).x, texelFetch(b, k + 1).x, texelFetch(b, k + 2).x);
}
vec3 at(uint i) { return fetch3(Vertices, i); }
vec3 nat(uint i) { return fetch3(Normals, i); }
vec3 aat(uint i) { return fetch3(Albedo, i); }
float material(uint k) { return texelFetch(Material, int(k)).x; }
uint tri(uint k) { return texelFetch(Triangles, int(k)).x; }

vec3 srgb_to_linear(vec3 c) { return mix(pow((c + 0.055) / 1.055, vec3(2.4)), c / 12.92, lessThanEqual(c, vec3(0.04045))); }
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, c * 12.92, lessThanEqual(c, vec3(0.0031308)));
}

vec3 shade_sample(uint sx, uint sy) {
    uint ws = p.width * p.ss, hs = p.height * p.ss;
    uint t = texelFetch(Face, int(sy * ws + sx)).x;
    if (t == 0xFFFFFFFFu) {
        float yy = hs > 1u ? float(sy) / float(hs - 1u) : 0.0;
        return srgb_to_linear(vec3(p.bgR, p.bgG, p.bgB)) * (1.05 - 0.25 * yy);
    }
    uint i0 = tri(3u * t), i1 = tri(3u * t + 1u), i2 = tri(3u * t + 2u);
    vec3 a = at(i0), b = at(i1), c = at(i2);
    Projected pr = project_triangle(a, b, c, p.f, p.cx, p.cy, p.distance);
    vec3 l = screen_barycentrics(pr, vec2(float(sx) + 0.5, float(sy) + 0.5));
    vec3 w = l / pr.z;
    w /= (w.x + w.y + w.z);
    vec3 P = w.x * a + w.y * b + w.z * c;
    vec3 N = w.x * nat(i0) + w.y * nat(i1) + w.z * nat(i2);
    N /= max(length(N), 1e-12);
    vec3 A = w.x * aat(i0) + w.y * aat(i1) + w.z * aat(i2);
    float S = w.x * material(2u * i0) + w.y * material(2u * i1) + w.z * material(2u * i2);
    vec3 view = vec3(0.0, 0.0, p.distance) - P;
    view /= max(length(view), 1e-12);
    if (dot(N, view) < 0.0) N = -N;
    vec3 col = A * (0.20 + 0.08 * N.y);
    const vec3 dirs[3] = vec3[3](vec3(-0.5, 0.55, 0.75), vec3(0.7, 0.1, 0.6), vec3(0.1, 0.5, -0.9));
    const float intensity[3] = float[3](0.95, 0.35, 0.35);
    const vec3 colours[3] = vec3[3](vec3(1.0, 0.97, 0.92), vec3(0.85, 0.9, 1.0), vec3(1.0));
    [[unroll]] for (int k = 0; k < 3; ++k) {
        vec3 L = normalize(dirs[k]);
        float ndl = dot(N, L);
        float diff = max((ndl + 0.25) / 1.25, 0.0);
        vec3 H = normalize(L + view);
        float sp = ndl > 0.0 ? pow(max(dot(N, H), 0.0), 40.0) * S : 0.0;
        col += intensity[k] * colours[k] * (A * diff + sp);
    }
    // Region with the largest interpolated weight: inner mouth (2), teeth (3), tongue (4) get occlusion.
    float r0 = material(2u * i0 + 1u), r1 = material(2u * i1 + 1u), r2 = material(2u * i2 + 1u);
    float s0 = w.x + (r1 == r0 ? w.y : 0.0) + (r2 == r0 ? w.z : 0.0);
    float s1 = w.y + (r0 == r1 ? w.x : 0.0) + (r2 == r1 ? w.z : 0.0);
    float s2 = w.z + (r0 == r2 ? w.x : 0.0) + (r1 == r2 ? w.y : 0.0);
    float region = s0 >= s1 && s0 >= s2 ? r0 : (s1 >= s2 ? r1 : r2);
    if (region >= 1.5 && region <= 4.5) {
        float occ = pow(clamp(1.0 - (p.zLip - P.z) / 0.7, 0.3, 1.0), 1.3);
        col *= occ;
    }
    return col;
}

void main() {
    uint pix = LINEAR_ID(64);
    if (pix >= p.width * p.height) return;
    uint x = pix % p.width, y = pix / p.width;
    vec3 sum = vec3(0.0);
    for (uint j = 0u; j < p.ss; ++j)
        for (uint i = 0u; i < p.ss; ++i)
            sum += shade_sample(x * p.ss + i, y * p.ss + j);
    sum = linear_to_srgb(sum / float(p.ss * p.ss));
    rgb[3 * pix] = sum.x;
    rgb[3 * pix + 1] = sum.y;
    rgb[3 * pix + 2] = sum.z;
}
