public import AvatarGraph

/// Storage precision of the renderer's frame graph. `.fp16` stores activations as fp16 (half the memory traffic)
/// with fp32 arithmetic, accumulation and norm statistics in every kernel; the parts where fp16 would change the
/// semantics stay fp32 (docs/renderer.md "fp16"): the NeRF (ray geometry, depths, random draws, importance
/// sampling, compositing) with the planes it samples, the alphas of the fusions (the head threshold compares
/// against 1.0), the 3-channel rgb image path to the output, and the torso's keypoint motions, softmax and
/// sampling grid. The per-identity graph runs once and stays fp32.
public enum RendererPrecision: String, Sendable, CaseIterable {
    case fp32, fp16

    /// The frame graph's activation type.
    public var activations: GraphElementType { self == .fp16 ? .float16 : .float32 }
}
