public import AvatarFormats
public import AvatarBundle

/// Sizes and switches of a HuBERT / wav2vec2 encoder (docs/motion.md §1.1), from the manifest's
/// `audio_frontend.config` as tools/convert.py writes it. Defaults are HuBERT-large (hubert-large-ls960-ft).
public struct HuBERTConfig: Sendable, Equatable {
    /// Feature-extractor normalisation: a LayerNorm after every conv, or a per-channel GroupNorm after conv 0.
    public enum FeatureNorm: String, Sendable, Equatable { case layer, group }

    public var hiddenSize = 1024
    public var numLayers = 24
    public var numHeads = 16
    public var intermediateSize = 4096
    public var convDim = [Int](repeating: 512, count: 7)
    public var convKernel = [10, 3, 3, 3, 3, 2, 2]
    public var convStride = [5, 2, 2, 2, 2, 2, 2]
    public var convBias = true
    public var featureNorm = FeatureNorm.layer
    public var featureProjectionLayerNorm = true
    /// do_stable_layer_norm: pre-LN layers and a final LayerNorm; false = LayerNorm first, post-LN layers.
    public var stableLayerNorm = true
    public var posConvKernel = 128
    public var posConvGroups = 16
    public var layerNormEps: Float = 1e-5
    public var convNormEps: Float = 1e-5
    public var normalizeInput = true
    public var normalizeEps = 1e-7
    /// Utterance mode: non-overlapping chunks of this many rows (1000 = 20 s); rows padded to this multiple.
    public var chunkFrames = 1000
    public var padRowsMultiple = 8

    public init() {}

    /// From a manifest config; keys missing take the HuBERT-large value, present ones are checked.
    public init(manifest config: [String: JSONValue]?) throws {
        let c = config ?? [:]
        func fail(_ message: String) -> MotionModelError { MotionModelError("hubert", message) }
        let r = ManifestConfigReader(config, fail: fail)
        hiddenSize = try r.int("hidden_size", 1024)
        numLayers = try r.int("num_layers", 24)
        numHeads = try r.int("num_heads", 16)
        intermediateSize = try r.int("intermediate_size", 4096)
        convDim = try r.ints("conv_dim", convDim)
        convKernel = try r.ints("conv_kernel", convKernel)
        convStride = try r.ints("conv_stride", convStride)
        convBias = try r.bool("conv_bias", true)
        if let v = c["feat_extract_norm"] {
            guard let s = v.string, let norm = FeatureNorm(rawValue: s) else {
                throw fail("config.feat_extract_norm must be \"layer\" or \"group\", found \(v)")
            }
            featureNorm = norm
        }
        featureProjectionLayerNorm = try r.bool("feat_proj_layer_norm", true)
        stableLayerNorm = try r.bool("stable_layer_norm", true)
        posConvKernel = try r.int("pos_conv_kernel", 128)
        posConvGroups = try r.int("pos_conv_groups", 16)
        layerNormEps = Float(try r.double("layer_norm_eps", 1e-5))
        convNormEps = Float(try r.double("conv_norm_eps", 1e-5))
        normalizeInput = try r.bool("normalize_input", true)
        normalizeEps = try r.double("normalize_eps", 1e-7)
        chunkFrames = try r.int("chunk_frames", 1000)
        padRowsMultiple = try r.int("pad_rows_multiple", 8)
        for (key, expected) in [("activation", "gelu"), ("output", "last_hidden_state")] {
            if let v = c[key], v.string != expected {
                throw fail("config.\(key) must be \"\(expected)\" (the only variant implemented), found \(v)")
            }
        }
        if let rate = c["sample_rate"], rate.int != 16000 { throw fail("config.sample_rate must be 16000, found \(rate)") }
        try validate()
        // Derived values the converter also writes must agree with the conv stack.
        if let s = c["stride"], s.int != stride { throw fail("config.stride \(s) disagrees with conv_stride (product \(stride))") }
        if let r = c["receptive_field"], r.int != receptiveField {
            throw fail("config.receptive_field \(r) disagrees with the conv stack (\(receptiveField))")
        }
    }

    /// Consistency of the sizes (also for configurations built in code).
    public func validate() throws {
        func fail(_ message: String) -> MotionModelError { MotionModelError("hubert", message) }
        guard convDim.count == convKernel.count, convKernel.count == convStride.count else {
            throw fail("config conv_dim, conv_kernel and conv_stride differ in length (\(convDim.count), \(convKernel.count), \(convStride.count))")
        }
        guard hiddenSize % numHeads == 0 else { throw fail("config hidden_size \(hiddenSize) is not a multiple of num_heads \(numHeads)") }
        guard hiddenSize % posConvGroups == 0 else {
            throw fail("config hidden_size \(hiddenSize) is not a multiple of pos_conv_groups \(posConvGroups)")
        }
        guard sampleRate % stride == 0 else { throw fail("config stride \(stride) does not divide 16000 into whole rows per second") }
    }

    public var sampleRate: Int { 16000 }
    /// Samples per output row (320 for HuBERT).
    public var stride: Int { convStride.reduce(1, *) }
    /// Samples seen by one output row (400 for HuBERT).
    public var receptiveField: Int {
        var r = 1
        for (k, s) in zip(convKernel, convStride).reversed() { r = (r - 1) * s + k }
        return r
    }
    public var rowsPerSecond: Int { sampleRate / stride }
    public var headDim: Int { hiddenSize / numHeads }
    public var extractorChannels: Int { convDim[convDim.count - 1] }

    /// Output rows of the feature extractor for `samples` samples (0 below the receptive field).
    public func rows(samples: Int) -> Int {
        var n = samples
        for (k, s) in zip(convKernel, convStride) {
            guard n >= k else { return 0 }
            n = (n - k) / s + 1
        }
        return n
    }

    /// Samples needed for `rows` rows: (rows − 1)·stride + receptive field.
    public func samples(rows: Int) -> Int { rows <= 0 ? 0 : (rows - 1) * stride + receptiveField }

    /// Every bundle tensor with its shape (tools/reference/hubert.py `tensor_shapes`).
    public var tensorShapes: [(name: String, shape: [Int])] {
        var s: [(String, [Int])] = []
        var cin = 1
        for (i, (cout, k)) in zip(convDim, convKernel).enumerated() {
            let p = "feature_extractor.conv\(i)."
            s.append((p + "weight", [cout, cin, k]))
            if convBias { s.append((p + "bias", [cout])) }
            if featureNorm == .layer || i == 0 {
                s.append((p + "norm.weight", [cout]))
                s.append((p + "norm.bias", [cout]))
            }
            cin = cout
        }
        let h = hiddenSize
        if featureProjectionLayerNorm {
            s.append(("feature_projection.norm.weight", [cin]))
            s.append(("feature_projection.norm.bias", [cin]))
        }
        s.append(("feature_projection.linear.weight", [h, cin]))
        s.append(("feature_projection.linear.bias", [h]))
        s.append(("pos_conv.weight", [h, h / posConvGroups, posConvKernel]))
        s.append(("pos_conv.bias", [h]))
        s.append(("encoder_norm.weight", [h]))
        s.append(("encoder_norm.bias", [h]))
        for i in 0..<numLayers {
            let p = "layers.\(i)."
            for n in ["q", "k", "v", "out"] {
                s.append((p + "attn.\(n).weight", [h, h]))
                s.append((p + "attn.\(n).bias", [h]))
            }
            s.append((p + "attn_norm.weight", [h]))
            s.append((p + "attn_norm.bias", [h]))
            s.append((p + "ff_norm.weight", [h]))
            s.append((p + "ff_norm.bias", [h]))
            s.append((p + "ff.in.weight", [intermediateSize, h]))
            s.append((p + "ff.in.bias", [intermediateSize]))
            s.append((p + "ff.out.weight", [h, intermediateSize]))
            s.append((p + "ff.out.bias", [h]))
        }
        return s
    }

    /// Checks that `shapeOf` (a weight file's tensor table) holds every tensor with its expected shape.
    public func validateTensors(file: String, _ shapeOf: (String) -> [Int]?) throws {
        for (name, expected) in tensorShapes {
            guard let found = shapeOf(name) else {
                throw MotionModelError("hubert", "\(file): tensor '\(name)' is missing (expected shape \(expected))")
            }
            guard found == expected else {
                throw MotionModelError("hubert", "\(file): tensor '\(name)' has shape \(found), expected \(expected)")
            }
        }
    }

    /// The deterministic recipe of docs/motion.md §5 (`hubert.recipe`): scale and offset per tensor.
    public func recipe(prefix: String = "") -> [(name: String, shape: [Int], scale: Double, offset: Double)] {
        tensorShapes.map { name, shape in
            if name.hasSuffix("norm.weight") { return (prefix + name, shape, 0.2, 1.0) }
            if name.hasSuffix(".bias") { return (prefix + name, shape, 0.1, 0.0) }
            if name == "pos_conv.weight" { return (prefix + name, shape, RecipeWeights.fanInScale(shape, gain: 0.5), 0.0) }
            return (prefix + name, shape, RecipeWeights.fanInScale(shape), 0.0)
        }
    }

    /// The tiny test configuration of the fixtures (tools/reference/hubert.py `HubertConfig.tiny`).
    public static func tiny(stable: Bool) -> HuBERTConfig {
        var c = HuBERTConfig()
        c.hiddenSize = 24
        c.numLayers = 2
        c.numHeads = 4
        c.intermediateSize = 40
        c.convDim = [16, 16, 12]
        c.convKernel = [10, 8, 8]
        c.convStride = [5, 8, 8]
        c.convBias = stable
        c.featureNorm = stable ? .layer : .group
        c.stableLayerNorm = stable
        c.posConvKernel = 8
        c.posConvGroups = 4
        return c
    }
}
