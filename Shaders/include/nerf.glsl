// Shared helpers of the NeRF shaders (nerf_*.comp): accurate softplus and the MipRayMarcher2 interval step.

#define NERF_INF uintBitsToFloat(0x7f800000u)

// log(1 + y) without losing y when it is tiny next to 1 (Goldberg's correction).
float nerf_log1p(float y) {
    float u = 1.0 + y;
    return u == 1.0 ? y : log(u) * (y / (u - 1.0));
}

// PyTorch Softplus(beta=1, threshold=20).
float nerf_softplus(float x) {
    return x > 20.0 ? x : (x > 0.0 ? x + nerf_log1p(exp(-x)) : nerf_log1p(exp(x)));
}

// 1 − exp(−x) without cancellation for small x.
float nerf_one_minus_exp(float x) {
    return abs(x) < 1e-3 ? x * (1.0 - x * 0.5 * (1.0 - x * (1.0 / 3.0))) : 1.0 - exp(-x);
}

// One MipRayMarcher2 interval between samples (z0, σ0) and (z1, σ1): its weight α·T, and T advanced by
// (1 − α + 1e-10), with 1 − α taken as exp(−σδ) directly (the float64 reference's value, not float32's 1 − (1 − e)).
float nerf_interval(float z0, float z1, float s0, float s1, inout float trans) {
    float x = nerf_softplus((s0 + s1) * 0.5 - 1.0) * (z1 - z0);
    float w = nerf_one_minus_exp(x) * trans;
    trans *= exp(-x) + 1e-10;
    return w;
}

// The port's ceiling on the decoder's feature width (MimicTalk: 32): per-point vectors are fixed-size arrays
// that unroll into registers; the operators refuse a wider hid.
#define MAX_HID 32u
