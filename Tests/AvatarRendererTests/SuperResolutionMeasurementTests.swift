import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// Opt-in (AVATARD_MEASURE_SR=1; minutes on lavapipe): the super-resolution at the official size
/// (RendererConfig() defaults, 128² features → 512²) over synthetic weights of the bundle's shapes, timed per run
/// with the per-group GPU times. A measurement, not a check: nothing here compares values.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AVATARD_MEASURE_SR"] == "1"))
struct SuperResolutionMeasurementTests {
    @Test func fullSizeSuperResolution() throws {
        let (device, ops) = try RendererGPU.get()
        let c = RendererConfig()
        let weights = try SyntheticSRWeights(config: c, device: device)
        let b = RendererGraphBuilder(graph: Graph(name: "sr_full", ops: ops), weights: weights, config: c)
        let (r, n) = (c.nerfRes, c.srRes)
        let feature = try b.g.input("feature_image", [c.hid, r, r])
        let w = try b.g.input("weights_image", [1, r, r])
        let torsoImage = try b.g.input("ref_torso_img", [3, c.img, c.img])
        let background = try b.g.input("bg_img", [3, c.img, c.img])
        let torso = TorsoOutputs(rgb: try b.g.input("rgb_torso", [3, n, n]), hidden: try b.g.input("torso_hidden", [c.genCh.last!, n, n]),
                                 alpha: try b.g.input("torso_alpha", [1, n, n]))
        let resized = try b.srInputs(feature: feature, weights: w, torsoImage: torsoImage, background: background)
        let out = try b.superResolution(feature: feature, resized: resized, torso: torso)
        try b.g.output("image", out.image)
        let net = try b.g.plan(GraphPlanOptions(timestamps: true))
        var noise = MeasurementNoise(state: 3)
        for name in ["feature_image", "weights_image", "ref_torso_img", "bg_img", "rgb_torso", "torso_hidden", "torso_alpha"] {
            let count = try net.shape(name).reduce(1, *)
            try net.write(name, (0..<count).map { _ in name.hasSuffix("alpha") || name.hasPrefix("weights") ? 0.5 + 0.4 * noise.next() : noise.next() })
        }
        print("sr_full: \(net.nodeCount) nodes, arena \(net.planBytes >> 20) MiB (\(net.unsharedBytes >> 20) MiB without reuse)")
        for run in 0..<1 {
            let start = Date()
            try net.run()
            let wall = Date().timeIntervalSince(start)
            let groups = net.groupTimings(depth: 3).map { "\($0.group) \(String(format: "%.2f", $0.seconds)) s" }.joined(separator: ", ")
            print("sr_full run \(run): wall \(String(format: "%.2f", wall)) s; GPU by group: \(groups)")
        }
        let slowest = net.timings().sorted { $0.seconds > $1.seconds }.prefix(12)
        print("sr_full slowest nodes: " + slowest.map { "\($0.label) \(String(format: "%.2f", $0.seconds)) s" }.joined(separator: ", "))
        let image = try net.read("image")
        let finite = image.allSatisfy { $0.isFinite }
        #expect(finite)
    }
}

/// Uniform noise in [−1, 1).
private struct MeasurementNoise {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
}

/// Every tensor the super-resolution reads, at the shapes `config` implies (renderer_modules.SuperresolutionWarp),
/// filled with noise scaled by 1/√fan-in so activations stay O(1).
private final class SyntheticSRWeights: WeightSource {
    let tensors: [String: Tensor]

    init(config c: RendererConfig, device: VulkanDevice) throws {
        let p = "superresolution.", s = c.srCh
        var shapes: [String: [Int]] = [p + "fir": [4, 4]]
        func conv(_ name: String, _ out: Int, _ inp: Int, _ k: Int) {
            shapes[p + name + "weight"] = [out, inp, k, k]
            shapes[p + name + "bias"] = [out]
        }
        for (block, inp, out) in [("block0.", c.hid, s), ("head_torso_block.", s, s), ("block1.", s, c.srLast)] {
            conv(block + "conv0.", out, inp, 3); conv(block + "conv1.", out, out, 3); conv(block + "torgb.", 3, out, 1)
        }
        conv("torso_encoder.0.", s, c.genCh.last!, 1)
        conv("bg_encoder.0.", c.bgMid, 3, 3); conv("bg_encoder.2.", s, c.bgMid, 3); conv("bg_encoder.4.", s, s, 3)
        conv("fuse_head_torso_convs.0.", s, 2 * s, 3); conv("fuse_head_torso_convs.2.", s, s, 3)
        conv("fuse_fg_bg_convs.0.", c.fuseMid, 2 * s, 1); conv("fuse_fg_bg_convs.2.", s, c.fuseMid, 3); conv("fuse_fg_bg_convs.4.", s, s, 3)
        let total = shapes.values.map { $0.reduce(1, *) }.reduce(0, +)
        let arena = try BufferArena(device: device, byteCount: (total + 64 * shapes.count) * 4 + (1 << 16))
        var noise = MeasurementNoise(state: 11)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            let t = try Tensor(shape: shape, in: arena)
            let fanIn = shape.count == 4 ? shape[1] * shape[2] * shape[3] : 16
            let scale = name.hasSuffix("fir") ? 0 : 1 / Float(fanIn).squareRoot()
            try t.write(name.hasSuffix("fir") ? [1, 3, 3, 1].flatMap { a in [1, 3, 3, 1].map { Float(a * $0) / 16 } }
                        : (0..<t.count).map { _ in noise.next() * scale })
            tensors[name] = t
        }
        self.tensors = tensors
    }

    func weightTensor(_ name: String) -> Tensor? { tensors[name] }
}
