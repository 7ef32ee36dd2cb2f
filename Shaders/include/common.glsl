// Shared head of every avatard compute shader.
#extension GL_EXT_control_flow_attributes : enable

// Linear invocation index for 1-D launches folded into x and y (the host splits past 65535 groups in x).
#define LINEAR_ID(LOCAL) (gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * (LOCAL))

float gelu_erf(float x) {
    // 0.5·x·(1 + erf(x/√2)); erf from Abramowitz–Stegun 7.1.26 has 1.5e-7 absolute error.
    float z = abs(x) * 0.7071067811865476;
    float t = 1.0 / (1.0 + 0.3275911 * z);
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-z * z);
    float e = x >= 0.0 ? y : -y;
    return 0.5 * x * (1.0 + e);
}

float sigmoid_stable(float x) {
    return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
