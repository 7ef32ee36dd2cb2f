public import AvatarGraph
import AvatarOperators

/// The super-resolution with head/torso and foreground/background fusion (`Renderer.superres` and
/// `Renderer.style_block` in tools/reference/renderer.py; docs/renderer.md §4.2 "StyleGAN layers"): feature image
/// at nerf_res → block0 (→ sr_res) → fuse with the torso model's features (α = weights) → head_torso_block →
/// fuse with the background (α = person alpha) → block1 (→ img).
extension RendererGraphBuilder {
    /// StyleGAN's lrelu(·, 0.2)·√2 after a SynthesisLayer's bias.
    static let styleSlope: Float = 0.2
    static let styleGain = Float(2).squareRoot()
    /// nn.LeakyReLU's default slope (encoders and fusion convs).
    static let fuseSlope: Float = 0.01

    /// The four 256² (sr_res) resizes the SR and the torso model share: rgb of the feature image, weights, torso image, background.
    public func srInputs(feature: GraphValue, weights: GraphValue, torsoImage: GraphValue, background: GraphValue) throws
        -> (rgb: GraphValue, weights: GraphValue, torso: GraphValue, background: GraphValue) {
        let r = c.nerfRes, s = (c.srRes, c.srRes)
        try expect(feature, [c.hid, r, r], "feature image"); try expect(weights, [1, r, r], "weights image")
        try expect(torsoImage, [3, c.img, c.img], "torso image"); try expect(background, [3, c.img, c.img], "background")
        return try g.group("sr_inputs") {
            // Bilinear, align_corners=False, antialias=True (an up-sampling for rgb and weights, a down-sampling for the images).
            (try g.resize(try rgbOf(feature), to: s, mode: .antialias), try g.resize(weights, to: s, mode: .antialias),
             try g.resize(torsoImage, to: s, mode: .antialias), try g.resize(background, to: s, mode: .antialias))
        }
    }

    /// feature [hid, R, R], weights [1, R, R]; resized inputs from srInputs; torso from torsoModel.
    /// (Of `resized`, the SR itself reads weights and background; rgb and torso are the torso model's inputs.)
    /// `backgroundFeatures`: the bg_encoder output when computed apart (it depends only on the background).
    public func superResolution(feature: GraphValue, resized: (rgb: GraphValue, weights: GraphValue, torso: GraphValue, background: GraphValue),
                                torso: TorsoOutputs, backgroundFeatures: GraphValue? = nil) throws -> SuperResolutionOutputs {
        let r = c.nerfRes, n = c.srRes, ch = c.srCh, p = Self.sr
        try expect(feature, [c.hid, r, r], "feature image")
        try expect(resized.weights, [1, n, n], "resized weights"); try expect(resized.background, [3, n, n], "resized background")
        try expect(torso.rgb, [3, n, n], "torso rgb"); try expect(torso.hidden, [c.genCh.last ?? 0, n, n], "torso hidden")
        // The reference "resizes" the torso alpha to sr_res with antialiasing; at the same size that is the identity.
        try expect(torso.alpha, [1, n, n], "torso alpha")
        return try g.group("superresolution") {
            // Under fp16 activations the features are fp16 and the rgb image path (3 channels, to the output) fp32.
            var (x, rgb) = try g.group("block0") { try styleBlock(try asActivation(feature), image: try rgbOf(feature), p + "block0.", out: ch, up: true) }
            let xTorso = try g.group("torso_encoder") { try conv(torso.hidden, p + "torso_encoder.0.", out: ch, kernel: 1) }
            let xBackground = try backgroundFeatures ?? self.backgroundFeatures(resized.background)
            try expect(xBackground, [ch, n, n], "background features")
            // Head/torso fusion v2: α = the resized NeRF weights.
            let a = resized.weights
            (x, rgb) = try g.group("head_torso") {
                let rgb = try fp32 { try g.alphaMix(rgb, try g.cast(torso.rgb, to: .float32), alpha: a) }
                var x = try g.alphaSplit(x, xTorso, alpha: a)
                x = try leakyRelu(try conv(x, p + "fuse_head_torso_convs.0.", out: ch, kernel: 3), slope: Self.fuseSlope)
                x = try conv(x, p + "fuse_head_torso_convs.2.", out: ch, kernel: 3)
                return try styleBlock(x, image: rgb, p + "head_torso_block.", out: ch, up: false)
            }
            let personAlpha = try g.personAlpha(head: a, torso: torso.alpha, threshold: c.headThreshold)
            x = try g.group("fg_bg") {
                rgb = try fp32 { try g.alphaMix(rgb, resized.background, alpha: personAlpha) }
                var x = try g.alphaSplit(x, xBackground, alpha: personAlpha)
                x = try leakyRelu(try conv(x, p + "fuse_fg_bg_convs.0.", out: c.fuseMid, kernel: 1, padding: 0), slope: Self.fuseSlope)
                x = try leakyRelu(try conv(x, p + "fuse_fg_bg_convs.2.", out: ch, kernel: 3), slope: Self.fuseSlope)
                return try conv(x, p + "fuse_fg_bg_convs.4.", out: ch, kernel: 3)
            }
            let sr = try g.group("block1") { try styleBlock(x, image: rgb, p + "block1.", out: c.srLast, up: true).image }
            return SuperResolutionOutputs(sr: sr, image: try g.clamp(sr, lower: -1, upper: 1), personAlpha: personAlpha)
        }
    }

    /// The background encoder over the background at sr_res [3, sr, sr] → [sr_ch, sr, sr] (per identity).
    public func backgroundFeatures(_ background256: GraphValue) throws -> GraphValue {
        let p = Self.sr
        try expect(background256, [3, c.srRes, c.srRes], "resized background")
        return try g.group("bg_encoder") {
            var b = try leakyRelu(try conv(background256, p + "bg_encoder.0.", out: c.bgMid, kernel: 3), slope: Self.fuseSlope)
            b = try leakyRelu(try conv(b, p + "bg_encoder.2.", out: c.srCh, kernel: 3), slope: Self.fuseSlope)
            return try conv(b, p + "bg_encoder.4.", out: c.srCh, kernel: 3)
        }
    }

    /// A StyleGAN SynthesisBlock ('skip' architecture) over static kernels: conv0 (up-sampling when `up`), conv1,
    /// ToRGB added to the image (up-sampled first when `up`). Returns the features and the image.
    func styleBlock(_ x: GraphValue, image: GraphValue, _ prefix: String, out: Int, up: Bool) throws -> (x: GraphValue, image: GraphValue) {
        let fir = try weight(Self.sr + "fir", [4, 4])
        var x = x, image = image
        if up {
            x = try g.group("conv0") {
                // The stored kernel correlates the zero-inserted input (pad 2: H → 2H + 1); the FIR with pad 1 brings
                // it to 2H. `fir` is symmetric, so the true convolution of upfirdn2d equals the reference's correlation.
                let w0 = try weight(prefix + "conv0.weight", [out, x.shape[0], 3, 3])
                return try g.firBiasActivation(try g.upConv2dPhases(x, weight: w0), filter: fir, bias: try weight(prefix + "conv0.bias", [out]),
                                               padY: (1, 1), padX: (1, 1), slope: Self.styleSlope, gain: Self.styleGain)
            }
            // Image skip: upfirdn2d up 2, pad (2, 1, 2, 1), gain 4 (folded into fir).
            image = try g.group("skip") { try g.upfirdn2d(image, filter: fir, up: 2, padY: (2, 1), padX: (2, 1)) }
        } else {
            x = try g.group("conv0") {
                try leakyRelu(try conv(x, prefix + "conv0.", out: out, kernel: 3), slope: Self.styleSlope, gain: Self.styleGain)
            }
        }
        x = try g.group("conv1") {
            try leakyRelu(try conv(x, prefix + "conv1.", out: out, kernel: 3), slope: Self.styleSlope, gain: Self.styleGain)
        }
        let y = try g.group("torgb") { try toRGB(x, prefix + "torgb.") }
        return (x, try fp32 { try g.add(image, y) })
    }

    /// ToRGB, a 1×1 conv to 3 channels, as the product W [3, C] · x [C, H·W] plus the bias: with 3 output channels
    /// `conv2d` takes its direct kernel (one output per invocation), 10× slower than the matmul at 512². The result is
    /// fp32 (the image path) from fp16 features too: fp32 weights times fp16 x, accumulated and stored in fp32.
    private func toRGB(_ x: GraphValue, _ name: String) throws -> GraphValue {
        let (ch, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let kernel = try g.reshape(try weight(name + "weight", [3, ch, 1, 1]), [3, ch])
        return try fp32 {
            let y = try g.reshape(try g.matmul(kernel, try g.reshape(x, [ch, h * w])), [3, h, w])
            return try g.scaleShift(y, scale: try g.constant("ones", values: [1, 1, 1], shape: [3]), shift: try weight(name + "bias", [3]), axis: 0)
        }
    }

    /// The first three channels of the feature image (its rgb), a view without a copy.
    private func rgbOf(_ feature: GraphValue) throws -> GraphValue {
        try g.view(feature, elementOffset: 0, shape: [3, feature.shape[1], feature.shape[2]])
    }

    private func expect(_ value: GraphValue, _ shape: [Int], _ what: String) throws {
        guard value.shape == shape else { throw RendererError("superresolution: \(what) is \(value.shape), expected \(shape)") }
    }
}
