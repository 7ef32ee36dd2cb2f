public import AvatarBundle
public import AvatarGraph
public import AvatarOperators
public import AvatarVulkan
import AvatarFormats

/// One MimicTalk person renderer on the device: the bundle's weights, its identity tensors and the planned frame
/// graph (SECC → motion adapter + tri-plane → NeRF → super-resolution with torso and background), replayed per
/// frame. Inputs and outputs are named as `avatard renderer frame` and tools/reference/renderer_frame.py name them.
///
/// Not thread-safe: one renderer per render thread, like a `GraphNetwork`.
public final class MimicTalkRenderer {
    public let config: RendererConfig
    public let ops: Operators
    /// fp32, or fp16 activations in the frame graph (`RendererPrecision`).
    public let precision: RendererPrecision
    let weights: WeightStore
    /// person_ds of the bundle: gt_img [1,3,S,S], id [1,80], src_kp [68,3].
    public let identity: [String: [Float]]
    /// GPU timestamps per module group (benchmarks); set before the first frame.
    public var timestamps = false
    private var plans: [Bool: GraphNetwork] = [:]
    private var last: GraphNetwork?
    /// The identity graph (torso appearance, the torso and background images at sr_res, the background encoder) and the identity
    /// inputs it last ran on: its outputs are frame-graph inputs, recomputed only when those inputs change.
    private var identityNetwork: GraphNetwork?
    private var identityInputs: [String: [Float]] = [:]
    private var identityOutputs: [String: [Float]] = [:]
    /// Bumped whenever `identityOutputs` change; each frame graph records the generation it holds.
    private var identityGeneration = 0
    private var identityWritten: [Bool: Int] = [:]
    /// Inputs that stay the same from frame to frame (`setFixedInputs`), and which of them each frame graph holds.
    private var fixedInputs: [String: [Float]] = [:]
    private var fixedWritten: [Bool: Set<String>] = [:]
    /// Frame inputs that depend only on the identity.
    static let identityInputNames = ["ref_torso_img", "segmap", "bg_img"]
    static let identityOutputNames = ["torso_features", "torso_seg", "torso_256", "bg_256", "bg_features"]

    /// Intermediates written by `frame(…, dumps: true)`, in the reference's names.
    public static let dumpNames = ["planes", "feature_image", "weights_image", "depth_image", "rgb_torso", "torso_alpha",
                                   "person_alpha", "sr_image", "image"]

    public init(config: RendererConfig, weights: WeightStore, identity: [String: [Float]] = [:], ops: Operators,
                precision: RendererPrecision = .fp32) {
        self.config = config
        self.precision = precision
        self.weights = weights
        self.identity = identity
        self.ops = ops
    }

    /// From a bundle with a `renderer` of kind mimictalk_renderer (and optionally its `identity`). Builds the frame
    /// graph once, so every tensor's name and shape is checked here (and, for `.fp16`, that the device has 16-bit storage).
    public convenience init(bundle: AvatarBundle, device: VulkanDevice, ops: Operators, timestamps: Bool = false,
                            precision: RendererPrecision = .fp32) throws {
        guard let component = bundle.manifest.renderer, component.kind == "mimictalk_renderer" else {
            throw RendererError("bundle \(bundle.name) has no renderer of kind mimictalk_renderer")
        }
        let config = try RendererConfig(manifest: component.config)
        guard component.weights.count == 1, let file = bundle.file(component.weights[0]) else {
            throw RendererError("renderer.weights must name one safetensors file of the bundle, found \(component.weights)")
        }
        let store = try WeightStore(file: file, device: device)
        var identity: [String: [Float]] = [:]
        if let person = bundle.manifest.identity {
            let expected = ["gt_img": [1, 3, config.img, config.img], "id": [1, 80], "src_kp": [68, 3]]
            for name in person.weights {
                guard let f = bundle.file(name) else { throw RendererError("identity weight file \(name) is not open") }
                for (key, shape) in expected where f.tensors[key] != nil {
                    identity[key] = try f.tensor(key, shape: shape).floats()
                }
            }
        }
        self.init(config: config, weights: store, identity: identity, ops: ops, precision: precision)
        self.timestamps = timestamps
        _ = try network(dumps: false)
    }

    /// Plans the frame graph now (sessions do it before their first frame, so every tensor is checked at start).
    public func prepare() throws { _ = try network(dumps: false) }

    /// The identity graph's outputs for the identity inputs among `inputs` (ref_torso_img, segmap, bg_img), computed
    /// now unless they are the ones of the last frame.
    public func identityValues(for inputs: [String: [Float]]) throws -> [String: [Float]] {
        try updateIdentity(inputs)
        return identityOutputs
    }

    /// Takes the identity graph's outputs another renderer of the same weights computed for the same identity
    /// inputs (`identityValues(for:)`), so this one does not run its identity graph for them (the same bits).
    public func adoptIdentity(inputs: [String: [Float]], outputs: [String: [Float]]) {
        identityInputs = inputs.filter { Self.identityInputNames.contains($0.key) }
        identityOutputs = outputs
        identityGeneration += 1
    }

    /// Shapes of the frame inputs as the `.npy` files carry them (batch 1 kept).
    public var inputShapes: [String: [Int]] {
        let s = config.img, m = config.rays
        return ["cond_cano": [1, 3, s, s], "cond_src": [1, 3, s, s], "cond_tgt": [1, 3, s, s], "ref_torso_img": [1, 3, s, s],
                "bg_img": [1, 3, s, s], "segmap": [1, 6, s, s], "kp_s": [1, 68, 3], "kp_d": [1, 68, 3], "camera": [1, 25],
                "rand_stratified": [1, m, config.samplesCoarse, 1], "rand_importance": [m, config.samplesFine]]
    }

    /// Inputs a frame may leave out: the random draws (drawn here), cond_src for a 6-channel SECC, and kp_s when the
    /// identity carries src_kp (then kp_s = src_kp with z = 0, as MimicTalk inference feeds it).
    public func isOptional(_ name: String) -> Bool {
        name.hasPrefix("rand_") || (name == "cond_src" && config.seccIn == 6) || (name == "kp_s" && identity["src_kp"] != nil)
    }

    /// Renders one frame. `inputs` by name (values in C order, shapes `inputShapes`); missing random draws come
    /// from a generator seeded with `seed`. Returns "image" (clamped to [-1, 1]) and "sr_image", plus `dumpNames`
    /// (planes in upstream orientation) and the draws used when `dumps`. A frame with NaN/Inf is an error.
    public func frame(_ inputs: [String: [Float]], seed: UInt64 = 0, dumps: Bool = false) throws -> [String: [Float]] {
        try validate(inputs)
        var inputs = inputs
        for (name, shape) in inputShapes where inputs[name] == nil && fixedInputs[name] == nil {
            guard isOptional(name) else { throw RendererError("input \(name) \(shape) is missing") }
            if name == "kp_s", let kp = identity["src_kp"] {
                inputs[name] = kp.enumerated().map { $0.offset % 3 == 2 ? 0 : $0.element }
            } else if name.hasPrefix("rand_") {
                var random = UniformDraws(seed: seed &+ (name == "rand_importance" ? 1 : 0))
                inputs[name] = (0..<shape.reduce(1, *)).map { _ in random.next() }
            }
        }
        let network = try network(dumps: dumps)
        if identityOutputs.isEmpty || inputs.keys.contains(where: Self.identityInputNames.contains) {
            try updateIdentity(fixedInputs.merging(inputs) { $1 })
        }
        if identityWritten[dumps] != identityGeneration {
            for name in Self.identityOutputNames { try network.write(name, identityOutputs[name]!) }
            identityWritten[dumps] = identityGeneration
        }
        // A fixed input is written once per frame graph; one given to this frame replaces it until the next frame.
        var held = fixedWritten[dumps] ?? []
        for name in inputShapes.keys where !Self.identityInputNames.contains(name) && !(name == "cond_src" && config.seccIn == 6) {
            if let values = inputs[name] {
                try network.write(name, values)
                held.remove(name)
            } else if !held.contains(name), let values = fixedInputs[name] {
                try network.write(name, values)
                held.insert(name)
            }
        }
        fixedWritten[dumps] = held
        try network.run()
        last = network
        var out: [String: [Float]] = [:]
        out["image"] = try network.read("image")
        out["sr_image"] = try network.read("sr_image")
        guard out["sr_image"]!.allSatisfy(\.isFinite) else { throw RendererError("the frame contains NaN or Inf") }
        if dumps {
            for name in Self.dumpNames where out[name] == nil {
                out[name] = try network.read(name == "planes" ? "planes_raw" : name)
            }
            out["planes"] = upstreamOrientation(out["planes"]!)
            out["rand_stratified"] = inputs["rand_stratified"]
            out["rand_importance"] = inputs["rand_importance"]
        }
        return out
    }

    /// Inputs that stay the same from frame to frame (a session's cano and src maps and identity images): checked
    /// once here, written to each frame graph once and the identity graph run for them once; `frame` then needs only
    /// the inputs that change, and any it is given replace these for that frame.
    public func setFixedInputs(_ inputs: [String: [Float]]) throws {
        try validate(inputs)
        if Self.identityInputNames.allSatisfy({ inputs[$0] != nil }) { try updateIdentity(inputs) }
        fixedInputs = inputs
        fixedWritten = [:]
    }

    /// Known names, the documented number of values, finite.
    private func validate(_ inputs: [String: [Float]]) throws {
        let shapes = inputShapes
        for (name, values) in inputs {
            guard let shape = shapes[name] else {
                throw RendererError("input \(name) is not a renderer input (expected \(shapes.keys.sorted().joined(separator: ", ")))")
            }
            guard values.count == shape.reduce(1, *) else {
                throw RendererError("input \(name) holds \(values.count) values, expected \(shape)")
            }
            guard values.allSatisfy(\.isFinite) else { throw RendererError("input \(name) contains NaN or Inf") }
        }
    }

    /// Shapes of `frame`'s outputs as the reference writes them (batch 1 kept).
    public var outputShapes: [String: [Int]] {
        let s = config.img, r = config.nerfRes, h = config.srRes, p = config.planeRes
        var shapes = inputShapes.filter { $0.key.hasPrefix("rand_") }
        shapes.merge(["planes": [1, 3, config.planeCh, p, p], "feature_image": [1, config.hid, r, r], "weights_image": [1, 1, r, r],
                      "depth_image": [1, 1, r, r], "rgb_torso": [1, 3, h, h], "torso_alpha": [1, 1, h, h],
                      "person_alpha": [1, 1, h, h], "sr_image": [1, 3, s, s], "image": [1, 3, s, s]]) { $1 }
        return shapes
    }

    /// The frame graph's device memory for activations: the arena with memory reuse, and the bytes its nodes
    /// write per frame (every temporary and retained value counted once, without reuse).
    public func activationBytes() throws -> (arena: Int, written: Int) {
        let n = try network(dumps: false)
        return (n.planBytes, n.unsharedBytes)
    }

    /// GPU seconds per module group of the last run (with `timestamps`).
    public func groupTimings(depth: Int = 1) -> [(group: String, seconds: Double)] {
        last?.groupTimings(depth: depth) ?? []
    }

    // MARK: Graph

    /// Runs the identity graph when the identity inputs differ from the last ones (the results are the same bits
    /// the frame graph would compute from them: same kernels, same order).
    private func updateIdentity(_ inputs: [String: [Float]]) throws {
        let current = inputs.filter { Self.identityInputNames.contains($0.key) }
        guard current != identityInputs || identityOutputs.isEmpty else { return }
        let network = try identityNetwork ?? buildIdentity()
        identityNetwork = network
        for (name, values) in current { try network.write(name, values) }
        try network.run()
        identityOutputs = [:]
        for name in Self.identityOutputNames { identityOutputs[name] = try network.read(name) }
        identityInputs = current
        identityGeneration += 1
    }

    private func buildIdentity() throws -> GraphNetwork {
        let c = config, s = c.img, r = (c.srRes, c.srRes)
        let g = Graph(name: "mimictalk_identity", ops: ops)
        let b = RendererGraphBuilder(graph: g, weights: weights, config: c)
        let torsoImage = try g.input("ref_torso_img", [3, s, s])
        let segmap = try g.input("segmap", [6, s, s])
        let background = try g.input("bg_img", [3, s, s])
        let torso256 = try g.resize(torsoImage, to: r, mode: .antialias)
        let appearance = try g.group("torso") { try b.torsoAppearance(torso256: torso256, segmap: segmap) }
        try g.output("torso_features", appearance.features)
        try g.output("torso_seg", appearance.seg)
        try g.output("torso_256", torso256)
        let background256 = try g.resize(background, to: r, mode: .antialias)
        try g.output("bg_256", background256)
        try g.output("bg_features", try g.group("sr") { try b.backgroundFeatures(background256) })
        return try g.plan()
    }

    func network(dumps: Bool) throws -> GraphNetwork {
        if let n = plans[dumps] { return n }
        let n = try build(dumps: dumps)
        plans[dumps] = n
        return n
    }

    private func build(dumps: Bool) throws -> GraphNetwork {
        let c = config, s = c.img, m = c.rays
        let g = try Graph(name: "mimictalk_renderer", ops: ops, activations: precision.activations)
        let b = RendererGraphBuilder(graph: g, weights: weights, config: c)
        // Inputs (under .fp16 the activations' conversions to fp16 run in this group).
        let (cano, src, tgt, torsoFeatures, torsoSeg, torso256, background256, backgroundFeatures, kpS, kpD, camera, randStratified,
             randImportance) = try g.group("inputs") {
            let cano = try g.input("cond_cano", [3, s, s])
            let src = c.seccIn == 9 ? try g.input("cond_src", [3, s, s]) : nil
            let tgt = try g.input("cond_tgt", [3, s, s])
            // Per-identity values, computed by the identity graph.
            let h = c.srRes, t = c.torsoRes
            let torsoFeatures = try g.input("torso_features", [c.appC, c.appD, t, t])
            let torsoSeg = try g.input("torso_seg", [2, t, t])
            // fp32 under .fp16 too: the rgb images (the output's path), keypoints, camera and draws (geometry, depths).
            let torso256 = try g.input("torso_256", [3, h, h], .float32)
            let background256 = try g.input("bg_256", [3, h, h], .float32)
            let backgroundFeatures = try g.input("bg_features", [c.srCh, h, h])
            let kpS = try g.input("kp_s", [68, 3], .float32), kpD = try g.input("kp_d", [68, 3], .float32)
            let camera = try g.input("camera", [25], .float32)
            let randStratified = try g.input("rand_stratified", [m, c.samplesCoarse], .float32)
            let randImportance = try g.input("rand_importance", [m, c.samplesFine], .float32)
            return (cano, src, tgt, torsoFeatures, torsoSeg, torso256, background256, backgroundFeatures, kpS, kpD, camera, randStratified,
                    randImportance)
        }
        let h = c.srRes

        let planes = try g.group("adapter") {
            try b.planes(secc: try g.concat([cano] + (src.map { [$0] } ?? []) + [tgt], axis: 0))
        }
        // The NeRF stays fp32 (planes is fp32 under .fp16 too): ray geometry, depths, draws, transmittance.
        let nerf = try g.group("nerf") {
            try g.withActivations(.float32) {
                try b.nerf(planes: planes, camera: camera, randStratified: randStratified, randImportance: randImportance)
            }
        }
        // fp32: the weights are the head/torso alpha and the person alpha's threshold input; the rgb is the image path.
        let resized = try g.group("sr_inputs") {
            try g.withActivations(.float32) {
                let r = c.nerfRes
                let rgb = try g.view(nerf.feature, elementOffset: 0, shape: [3, r, r])
                return (rgb: try g.resize(rgb, to: (h, h), mode: .antialias), weights: try g.resize(nerf.weights, to: (h, h), mode: .antialias),
                        torso: torso256, background: background256)
            }
        }
        let torso = try g.group("torso") {
            try b.torsoModel(appearance: (torsoFeatures, torsoSeg), kpS: kpS, kpD: kpD, headRGB: resized.rgb, headWeights: resized.weights)
        }
        let sr = try g.group("sr") { try b.superResolution(feature: nerf.feature, resized: resized, torso: torso, backgroundFeatures: backgroundFeatures) }
        try g.output("image", sr.image)
        try g.output("sr_image", sr.sr)
        if dumps {
            try g.output("planes_raw", planes)
            try g.output("feature_image", nerf.feature)
            try g.output("weights_image", nerf.weights)
            try g.output("depth_image", nerf.depth)
            try g.output("rgb_torso", torso.rgb)
            try g.output("torso_alpha", torso.alpha)
            try g.output("person_alpha", sr.personAlpha)
        }
        return try g.plan(GraphPlanOptions(timestamps: timestamps))
    }

    /// The bundle stores the planes mirrored (docs/renderer.md §4.2); upstream's orientation flips planes 0 and 1 in H
    /// and plane 2 in H and W.
    private func upstreamOrientation(_ raw: [Float]) -> [Float] {
        let p = config.planeRes, ch = config.planeCh
        var out = raw
        for k in 0..<3 {
            for c in 0..<ch {
                let base = (k * ch + c) * p * p
                for y in 0..<p {
                    for x in 0..<p {
                        out[base + y * p + x] = raw[base + (p - 1 - y) * p + (k == 2 ? p - 1 - x : x)]
                    }
                }
            }
        }
        return out
    }
}
