public import AvatarGraph
import AvatarOperators

/// Writes the MimicTalk renderer onto a `Graph`, module group by module group (one file per group: adapter,
/// NeRF, super-resolution, torso). Images are [C, H, W] and volumes [C, D, H, W] (batch 1, dropped); weights are
/// looked up by their bundle names (docs/renderer.md §4) with the shape the configuration implies.
public struct RendererGraphBuilder {
    public let g: Graph
    public let w: WeightScope
    public let c: RendererConfig

    public init(graph: Graph, weights: any WeightSource, config: RendererConfig) {
        self.g = graph
        self.w = graph.weights(weights)
        self.c = config
    }

    static let secc = "secc_img2plane_backbone."
    static let sr = "superresolution."
    static let torsoModel = sr + "torso_model."

    /// The stored tensor `name`, which must have `shape`.
    public func weight(_ name: String, _ shape: [Int]) throws -> GraphValue { try w.weight(name, shape) }

    /// Conv2d with the bundle's `<name>weight` [out, in/groups, k, k] and `<name>bias` [out]; "same" padding unless given.
    public func conv(_ x: GraphValue, _ name: String, out: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
                     groups: Int = 1, bias: Bool = true) throws -> GraphValue {
        let weight = try weight(name + "weight", [out, x.shape[0] / groups, kernel, kernel])
        let b = bias ? try self.weight(name + "bias", [out]) : nil
        if stride == 1 && groups == 1 {
            // The row-run kernel (it falls back to conv2d for shapes it does not run).
            return try g.conv2dRows(x, weight: weight, bias: b, padding: padding)
        }
        return try g.conv2d(x, weight: weight, bias: b, stride: stride, padding: padding, groups: groups)
    }

    /// Conv3d with `<name>weight` [out, in, k, k, k] and `<name>bias`, "same" padding.
    public func conv3d(_ x: GraphValue, _ name: String, out: Int, kernel: Int) throws -> GraphValue {
        let weight = try weight(name + "weight", [out, x.shape[0], kernel, kernel, kernel])
        // The row-run kernel (it falls back to conv3d for shapes it does not run, e.g. the 5-channel mask conv).
        return try g.conv3dRows(x, weight: weight, bias: try self.weight(name + "bias", [out]))
    }

    /// Linear over the last axis: `<name>weight` [out, in], `<name>bias` [out].
    public func linear(_ x: GraphValue, _ name: String, out: Int) throws -> GraphValue {
        try g.linear(x, try weight(name + "weight", [out, x.dim(-1)]), bias: try weight(name + "bias", [out]))
    }

    /// LayerNorm over the last axis with `<name>weight` and `<name>bias`.
    public func layerNorm(_ x: GraphValue, _ name: String, eps: Float) throws -> GraphValue {
        let d = x.dim(-1)
        return try g.layerNorm(x, weight: try weight(name + "weight", [d]), bias: try weight(name + "bias", [d]), eps: eps)
    }

    /// A NAC block (docs/renderer.md §4.2): conv(relu(x·scale + shift)), 2-D or 3-D by x's rank, channels kept.
    public func nac(_ x: GraphValue, _ name: String, kernel: Int = 3) throws -> GraphValue {
        let ch = x.shape[0]
        let y = try g.activation(.relu, try g.scaleShift(x, scale: try weight(name + "scale", [ch]), shift: try weight(name + "shift", [ch]),
                                                         axis: 0))
        return x.rank == 4 ? try conv3d(y, name, out: ch, kernel: kernel) : try conv(y, name, out: ch, kernel: kernel)
    }

    /// `n` ResBlocks x + NAC(NAC(x)) under `<prefix><i>.layers.{0,1}.`.
    public func res(_ x: GraphValue, _ prefix: String, _ n: Int, kernel: Int = 3) throws -> GraphValue {
        var x = x
        for i in 0..<n {
            x = try g.add(x, try nac(try nac(x, "\(prefix)\(i).layers.0.", kernel: kernel), "\(prefix)\(i).layers.1.", kernel: kernel))
        }
        return x
    }

    /// x·scale + shift with scalars.
    public func affine(_ x: GraphValue, scale: Float, shift: Float) throws -> GraphValue {
        let s = try g.constant("scale", values: [scale], shape: [1]), b = try g.constant("shift", values: [shift], shape: [1])
        return try g.reshape(try g.scaleShift(try g.reshape(x, [1, x.count]), scale: s, shift: b, axis: 0), x.shape)
    }

    /// x as the current activation type (a no-op in fp32 graphs).
    public func asActivation(_ x: GraphValue) throws -> GraphValue { try g.cast(x, to: g.activations) }

    /// Runs `body` with fp32 activations (a no-op in fp32 graphs): the parts of an fp16 graph that stay fp32.
    public func fp32<T>(_ body: () throws -> T) throws -> T { try g.withActivations(.float32, body) }

    /// LeakyReLU with PyTorch's slope (and an output gain, StyleGAN's √2).
    public func leakyRelu(_ x: GraphValue, slope: Float, gain: Float = 1) throws -> GraphValue {
        try g.activation(.leakyRelu, x, alpha: slope, gain: gain)
    }
}
