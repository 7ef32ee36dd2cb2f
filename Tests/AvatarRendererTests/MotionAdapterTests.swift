import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// The motion adapter (`seccPlanesRaw`, `planes`) against the reference's `secc_planes_raw` and `planes_raw`, fed
/// the fixture's own cond_cano/src/tgt, on both fixtures (tri-plane: 24 output channels; trigrid D=3: 72).
@Suite(.serialized)
struct MotionAdapterTests {
    /// secc [secc_in, img, img]: the fixture's conditions concatenated along channels, as the reference's `frame` does.
    static func secc(_ f: RendererFixture) throws -> [Float] {
        let names = f.config.seccIn == 9 ? ["cond_cano", "cond_src", "cond_tgt"] : ["cond_cano", "cond_tgt"]
        return try names.flatMap { try f.values($0) }
    }

    // Tolerances: float32 engine vs the float64 reference rounded to float32. The outputs are O(1) (max |ref|
    // printed), after ~40 layers of 8–64-channel sums, LayerNorms (which amplify the rounding of small-variance
    // rows) and softmaxes; the measured errors are ~1e-6 max / ~1e-7 mean, the bounds leave ~10× headroom while
    // any wrong tap, order or layout gives errors of O(0.1).
    @Test(arguments: ["small", "trigrid"])
    func matchesTheReference(_ name: String) throws {
        let f = try RendererFixture(name)
        let b = f.builder("motion_adapter_\(name)")
        let c = f.config
        let secc = try b.g.input("secc", [c.seccIn, c.img, c.img])
        let raw = try b.seccPlanesRaw(secc)
        #expect(raw.shape == [3, c.planeCh, c.planeRes, c.planeRes])
        // seccPlanesRaw returns a view (the last conv's output reshaped); a copy makes it a graph output.
        try b.g.output("secc_planes_raw", try b.g.permute(raw, [0, 1, 2, 3]))
        try b.g.output("planes_raw", try b.planes(secc: secc))
        let net = try b.g.plan()
        try net.write("secc", try Self.secc(f))
        try net.run()
        #expect(try f.shape("secc_planes_raw") == raw.shape)
        try f.expectClose(try net.read("secc_planes_raw"), "secc_planes_raw", maxAbs: 2e-5, meanAbs: 2e-6)
        try f.expectClose(try net.read("planes_raw"), "planes_raw", maxAbs: 2e-5, meanAbs: 2e-6)
    }

    /// A bundle missing or misshaping one adapter tensor fails when the graph is built, naming the tensor.
    @Test(arguments: [
        ("secc_img2plane_backbone.mix_vit.block2.1.attn.sr.weight", false, "is not in the bundle"),
        ("secc_img2plane_backbone.mix_vit.block4.0.mlp.dwconv.dwconv.weight", false, "is not in the bundle"),
        ("secc_img2plane_backbone.fuse_head.linear_c3.proj.weight", true, "the model expects [16, 40]"),
        ("secc_img2plane_backbone.to_plane_cnn.7.weight", true, "the model expects [24, 16, 3, 3]"),
        ("learnable_triplane", false, "is not in the bundle"),
        ("learnable_triplane", true, "the model expects [3, 8, 32, 32]"),
    ])
    func refusesAMissingOrMisshapenTensor(_ tensor: String, _ reshape: Bool, _ says: String) throws {
        let f = try RendererFixture("small")
        var replacement: Tensor?
        if reshape {
            let stored = try #require(f.weights.weightTensor(tensor))
            replacement = try stored.reshaped([stored.count / stored.dim(-1), stored.dim(-1)].reversed())
        }
        let source = AlteredWeights(base: f.weights, name: tensor, replacement: replacement)
        let b = RendererGraphBuilder(graph: Graph(name: "adapter_refusal", ops: f.ops), weights: source, config: f.config)
        let secc = try b.g.input("secc", [f.config.seccIn, f.config.img, f.config.img])
        do {
            _ = try b.planes(secc: secc)
            Issue.record("\(tensor) altered (reshape \(reshape)): the graph was built")
        } catch let error as GraphError {
            #expect("\(error)".contains(tensor) && "\(error)".contains(says), "\(error)")
        }
    }

    @Test func refusesASECCOfAnotherShape() throws {
        let f = try RendererFixture("small")
        let b = f.builder("adapter_wrong_secc")
        let secc = try b.g.input("secc", [6, f.config.img, f.config.img])
        #expect(throws: GraphError.self) { _ = try b.seccPlanesRaw(secc) }
    }
}

/// The fixture's weights with one tensor hidden (nil) or replaced.
struct AlteredWeights: WeightSource {
    let base: any WeightSource
    let name: String
    let replacement: Tensor?

    func weightTensor(_ n: String) -> Tensor? { n == name ? replacement : base.weightTensor(n) }
}
