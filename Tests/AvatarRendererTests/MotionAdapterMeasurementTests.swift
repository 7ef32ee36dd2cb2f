import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// Opt-in (AVATARD_MEASURE_ADAPTER=1; a minute on lavapipe): the motion adapter at the official size
/// (RendererConfig() defaults: 512² SECC → planes [3, 32, 256, 256]) with synthetic weights, wall time per run
/// and GPU time per group.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AVATARD_MEASURE_ADAPTER"] == "1"))
struct MotionAdapterMeasurementTests {
    @Test func officialSizeTiming() throws {
        let (device, ops) = try RendererGPU.get()
        let c = RendererConfig()
        let weights = try SyntheticWeights(shapes: Self.adapterShapes(c), device: device)
        for timestamps in [false, true] {
            let b = RendererGraphBuilder(graph: Graph(name: "adapter_official", ops: ops), weights: weights, config: c)
            let secc = try b.g.input("secc", [c.seccIn, c.img, c.img])
            try b.g.output("planes", try b.planes(secc: secc))
            let net = try b.g.plan(GraphPlanOptions(timestamps: timestamps))
            try net.write("secc", (0..<(c.seccIn * c.img * c.img)).map { Float(($0 * 7919) % 2001) / 1000 - 1 })
            try net.run()  // warm-up (pipeline creation)
            let runs = timestamps ? 1 : 3
            let start = Date()
            for _ in 0..<runs { try net.run() }
            let seconds = Date().timeIntervalSince(start) / Double(runs)
            let out = try net.read("planes")
            #expect(out.allSatisfy { $0.isFinite })
            if timestamps {
                print("adapter official GPU time by group: " + net.groupTimings(depth: 3).map { "\($0.group) \(String(format: "%.3f", $0.seconds))" }
                    .joined(separator: ", "))
            } else {
                print("adapter official: \(String(format: "%.3f", seconds)) s per run (\(runs) runs, \(net.dispatchCount) dispatches)")
            }
        }
    }

    /// Every adapter tensor with the shape the config implies (an independent list: a graph asking for another
    /// name or shape fails to build here).
    static func adapterShapes(_ c: RendererConfig) -> [String: [Int]] {
        let s = "secc_img2plane_backbone.", m = s + "mix_vit."
        var shapes: [String: [Int]] = [
            s + "prenet.weight": [3, c.seccIn, 1, 1], s + "prenet.bias": [3],
            "learnable_triplane": [3, c.planeCh, c.planeRes, c.planeRes],
        ]
        func linear(_ name: String, _ out: Int, _ inp: Int) { shapes[name + "weight"] = [out, inp]; shapes[name + "bias"] = [out] }
        func norm(_ name: String, _ d: Int) { shapes[name + "weight"] = [d]; shapes[name + "bias"] = [d] }
        func conv(_ name: String, _ out: Int, _ inp: Int, _ k: Int) { shapes[name + "weight"] = [out, inp, k, k]; shapes[name + "bias"] = [out] }
        var cin = 3
        for i in 0..<4 {
            let d = c.mitDims[i], e = "\(m)patch_embed\(i + 1)."
            conv(e + "proj.", d, cin, i == 0 ? 7 : 3)
            norm(e + "norm.", d)
            for j in 0..<c.mitDepths[i] {
                let b = "\(m)block\(i + 1).\(j)."
                norm(b + "norm1.", d); norm(b + "norm2.", d)
                linear(b + "attn.q.", d, d); linear(b + "attn.kv.", 2 * d, d); linear(b + "attn.proj.", d, d)
                if c.mitSR[i] > 1 { conv(b + "attn.sr.", d, d, c.mitSR[i]); norm(b + "attn.norm.", d) }
                linear(b + "mlp.fc1.", d * c.mlpRatio, d); linear(b + "mlp.fc2.", d, d * c.mlpRatio)
                conv(b + "mlp.dwconv.dwconv.", d * c.mlpRatio, 1, 3)
            }
            norm("\(m)norm\(i + 1).", d)
            linear("\(s)fuse_head.linear_c\(i + 1).proj.", c.headDim, d)
            cin = d
        }
        conv(s + "fuse_head.linear_fuse.", c.headDim, 4 * c.headDim, 1)
        conv(s + "to_plane_cnn.0.", c.planeCNN, c.headDim, 3)
        conv(s + "to_plane_cnn.2.", c.planeCNN, c.planeCNN, 3)
        conv(s + "to_plane_cnn.4.", c.planeCNN, c.planeCNN, 3)
        conv(s + "to_plane_cnn.7.", 3 * c.planeCh, c.planeCNN, 3)
        return shapes
    }
}

/// Device tensors of given names and shapes filled with small deterministic values (±1/√fan-in for weights,
/// 1 ± 0.1 for 1-D tensors so LayerNorm gains stay near 1): timing runs without a bundle.
struct SyntheticWeights: WeightSource {
    let tensors: [String: Tensor]

    init(shapes: [String: [Int]], device: VulkanDevice) throws {
        let total = shapes.values.map { ($0.reduce(1, *) * 4 + 255) / 256 * 256 }.reduce(0, +)
        let arena = try BufferArena(device: device, byteCount: total + (1 << 16))
        var tensors: [String: Tensor] = [:]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            let t = try Tensor(shape: shape, in: arena)
            let scale = shape.count == 1 ? 0.1 : 1 / Float(shape.dropFirst().reduce(1, *)).squareRoot()
            let offset: Float = shape.count == 1 && name.hasSuffix("weight") ? 1 : 0
            try t.write((0..<t.count).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return offset + scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
            })
            tensors[name] = t
        }
        self.tensors = tensors
    }

    func weightTensor(_ name: String) -> Tensor? { tensors[name] }
}
