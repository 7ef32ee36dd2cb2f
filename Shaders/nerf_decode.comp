#version 450
// Tri-plane (or trigrid, DEPTH > 1) sampling + OSG decoder, fused, one invocation per sample point:
// planes [3, P, P, HID·D] channels-last (a tap's channels in one run, channel c·D + d; bundle orientation: stored
// mirrored, so the coordinates are mirrored instead of the planes flipped), rays [M, 8], depths z (row m at
// m·zStride + zOffset) → decoded [M·S, 1 + HID], the decoder's raw output (σ, rgb logits; the marcher applies
// sigmoid·1.002 − 0.001). FEATURES_ONLY (nerf_sample_features): only the plane mean [M·S, HID], for the generic
// linears (faster on a CPU driver). Point = o + z·d scaled by 2/box_warp; planes sample (x, −y), (x, −z), (−z, −x)
// (depth coordinate z, y, y), bilinear/trilinear, zeros outside, align_corners=False; the mean over the planes
// goes through linear(HID → HIDDEN) → softplus → linear(HIDDEN → 1 + HID), weights read uniformly.
// Channel loops run to the compile-time MAX_HID with `c < HID` guards (HID a specialization constant), so they
// unroll and the per-point vectors stay in registers (a CPU driver spills dynamically indexed arrays).
#include "include/common.glsl"
#include "include/nerf.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HID = 32;
layout(constant_id = 1) const uint DEPTH = 1;
layout(constant_id = 2) const uint HIDDEN = 64;
const uint CH = HID * DEPTH;
layout(std430, binding = 0) readonly buffer Planes { float planes[]; };
layout(std430, binding = 0) readonly buffer Planes4 { vec4 planes4[]; };  // the same planes, for aligned channel runs
layout(std430, binding = 1) readonly buffer Rays { float rays[]; };
layout(std430, binding = 2) readonly buffer Z { float zs[]; };
layout(std430, binding = 3) readonly buffer W1 { float w1[]; };
layout(std430, binding = 4) readonly buffer B1 { float b1[]; };
layout(std430, binding = 5) readonly buffer W2 { float w2[]; };
layout(std430, binding = 6) readonly buffer B2 { float b2[]; };
layout(std430, binding = 7) writeonly buffer Out { float decoded[]; };
layout(push_constant) uniform Params { uint points, S, P, zStride, zOffset; float scale; } p;

// Bilinear taps along one axis (align_corners=False, zeros padding): clamped indices and weights (0 outside).
void taps(float v, uint size, out uint i0, out uint i1, out float w0, out float w1) {
    float f = ((v + 1.0) * float(size) - 1.0) * 0.5;
    float fl = floor(f);
    int a = int(fl), b = a + 1, last = int(size) - 1;
    float t = f - fl;
    w0 = (a >= 0 && a <= last) ? 1.0 - t : 0.0;
    w1 = (b >= 0 && b <= last) ? t : 0.0;
    i0 = uint(clamp(a, 0, last));
    i1 = uint(clamp(b, 0, last));
}

void main() {
    uint i = LINEAR_ID(64);
    if (i >= p.points) return;
    uint m = i / p.S, r = 8u * m;
    float t = zs[m * p.zStride + p.zOffset + i % p.S];
    vec3 pt = p.scale * (vec3(rays[r], rays[r + 1u], rays[r + 2u]) + t * vec3(rays[r + 3u], rays[r + 4u], rays[r + 5u]));
    uint plane = p.P * p.P;
    float f[MAX_HID];
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) f[c] = 0.0;
    [[unroll]] for (uint k = 0u; k < 3u; k++) {
        vec3 q = k == 0u ? vec3(pt.x, -pt.y, pt.z) : (k == 1u ? vec3(pt.x, -pt.z, pt.y) : vec3(-pt.z, -pt.x, pt.y));
        uint x0, x1, y0, y1;
        float wx0, wx1, wy0, wy1;
        taps(q.x, p.P, x0, x1, wx0, wx1);
        taps(q.y, p.P, y0, y1, wy0, wy1);
        uint o00 = y0 * p.P + x0, o01 = y0 * p.P + x1, o10 = y1 * p.P + x0, o11 = y1 * p.P + x1;
        uint base = k * plane * CH;
        o00 *= CH; o01 *= CH; o10 *= CH; o11 *= CH;
        if (DEPTH == 1u && HID % 4u == 0u) {
            // A tap's channels are contiguous: four at a time.
            [[unroll]] for (uint c = 0u; c < MAX_HID; c += 4u) {
                if (c < HID) {
                    uint b = (base + c) >> 2;
                    vec4 v = wy0 * (wx0 * planes4[b + (o00 >> 2)] + wx1 * planes4[b + (o01 >> 2)])
                           + wy1 * (wx0 * planes4[b + (o10 >> 2)] + wx1 * planes4[b + (o11 >> 2)]);
                    f[c] += v.x; f[c + 1u] += v.y; f[c + 2u] += v.z; f[c + 3u] += v.w;
                }
            }
        } else if (DEPTH == 1u) {
            [[unroll]] for (uint c = 0u; c < MAX_HID; c++) {
                if (c < HID) {
                    uint b = base + c;
                    f[c] += wy0 * (wx0 * planes[b + o00] + wx1 * planes[b + o01]) + wy1 * (wx0 * planes[b + o10] + wx1 * planes[b + o11]);
                }
            }
        } else {
            uint z0, z1;
            float wz0, wz1;
            taps(q.z, DEPTH, z0, z1, wz0, wz1);
            [[unroll]] for (uint c = 0u; c < MAX_HID; c++) {
                if (c < HID) {
                    uint b0 = base + c * DEPTH + z0, b1 = base + c * DEPTH + z1;
                    float s0 = wy0 * (wx0 * planes[b0 + o00] + wx1 * planes[b0 + o01]) + wy1 * (wx0 * planes[b0 + o10] + wx1 * planes[b0 + o11]);
                    float s1 = wy0 * (wx0 * planes[b1 + o00] + wx1 * planes[b1 + o01]) + wy1 * (wx0 * planes[b1 + o10] + wx1 * planes[b1 + o11]);
                    f[c] += wz0 * s0 + wz1 * s1;
                }
            }
        }
    }
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) f[c] /= 3.0;
#ifdef FEATURES_ONLY
    [[unroll]] for (uint c = 0u; c < MAX_HID; c++) if (c < HID) decoded[i * HID + c] = f[c];
#else
    float out_[MAX_HID + 1u];
    [[unroll]] for (uint o = 0u; o <= MAX_HID; o++) out_[o] = o <= HID ? b2[o] : 0.0;
    for (uint j = 0u; j < HIDDEN; j++) {
        float h = b1[j];
        [[unroll]] for (uint c = 0u; c < MAX_HID; c++) if (c < HID) h += w1[j * HID + c] * f[c];
        h = nerf_softplus(h);
        [[unroll]] for (uint o = 0u; o <= MAX_HID; o++) if (o <= HID) out_[o] += w2[o * HIDDEN + j] * h;
    }
    [[unroll]] for (uint o = 0u; o <= MAX_HID; o++) if (o <= HID) decoded[i * (HID + 1u) + o] = out_[o];
#endif
}
