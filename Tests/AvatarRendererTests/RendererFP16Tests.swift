import AvatarBundle
import AvatarGraph
import AvatarOperators
import AvatarRenderer
import Foundation
import Testing

/// The renderer with fp16 activations (`RendererPrecision.fp16`) on the small fixtures, against the float64
/// reference and against the fp32 renderer on the same inputs, and fp16's failure modes: values beyond fp16's range
/// in the LayerNorms and a frame whose activations are large.
///
/// Tolerances: fp16 stores 11 significant bits (a rounding of ≤ 2⁻¹¹ ≈ 4.9e-4 relative per stored value) and the
/// frame passes dozens of stored layers; measured on these fixtures (printed): image and sr_image max |Δ| 6.3e-4 … 8.3e-4,
/// mean 1.1e-4 … 1.4e-4 against the float64 reference (values within ±1.3), rgb_torso ≤ 1.0e-3 / 1.4e-4, feature
/// image ≤ 1.3e-4 / 3.0e-5; the fp32 parts (NeRF weights and depth, which see fp16 only through the planes; the
/// alphas) ≤ 3.5e-5 / 1.5e-5. The tolerances are 4–6× those maxima and 3–4× the means: an fp16 accumulation or
/// an fp16 norm statistic would exceed them, fp16 storage alone does not.
@Suite(.serialized) struct RendererFP16Tests {
    static func renderer(_ name: String, _ precision: RendererPrecision) throws -> (MimicTalkRenderer, RendererFixture) {
        let fixture = try RendererFixture(name)
        let bundle = try AvatarBundle(directory: RendererFixture.directory.appendingPathComponent(name),
                                      supportedKinds: ["renderer": ["mimictalk_renderer"], "identity": ["mimictalk_person"]])
        return (try MimicTalkRenderer(bundle: bundle, device: fixture.device, ops: fixture.ops, precision: precision), fixture)
    }

    /// max and mean |a − b|.
    static func difference(_ a: [Float], _ b: [Float]) -> (max: Double, mean: Double) {
        var worst = 0.0, sum = 0.0
        for (x, y) in zip(a, b) {
            let d = Double(abs(x - y))
            worst = max(worst, d.isNaN ? .infinity : d); sum += d
        }
        return (worst, sum / Double(max(1, a.count)))
    }

    @Test(arguments: ["small", "trigrid"]) func fp16FrameMatchesTheReference(_ name: String) throws {
        let (renderer, fixture) = try Self.renderer(name, .fp16)
        let inputs = try MimicTalkRendererTests.inputs(fixture)
        let frame = try renderer.frame(inputs, dumps: true)
        for key in ["image", "sr_image", "rgb_torso"] {
            try fixture.expectClose(frame[key]!, key, maxAbs: 4e-3, meanAbs: 5e-4)
        }
        try fixture.expectClose(frame["feature_image"]!, "feature_image", maxAbs: 6e-4, meanAbs: 1e-4)
        for key in ["weights_image", "depth_image", "torso_alpha", "person_alpha"] {
            try fixture.expectClose(frame[key]!, key, maxAbs: 2e-4, meanAbs: 5e-5)
        }
        // Against the fp32 renderer on the same inputs: the error fp16 storage adds.
        let (full, _) = try Self.renderer(name, .fp32)
        let reference = try full.frame(inputs, dumps: true)
        for key in ["image", "sr_image", "planes", "feature_image", "weights_image", "depth_image", "rgb_torso", "torso_alpha"] {
            let d = Self.difference(frame[key]!, reference[key]!)
            print("renderer \(name) fp16 vs fp32 \(key): max |Δ| \(d.max), mean |Δ| \(d.mean)")
            #expect(d.max <= 5e-3 && d.mean <= 5e-4, "\(name) \(key): fp16 vs fp32 max |Δ| \(d.max), mean \(d.mean)")
        }
        // The uint8 picture ((x + 1)·127.5 truncated, as upstream writes frames): how many pixels change.
        let bytes = { (x: [Float]) in x.map { UInt8(max(0, min(255, ($0 + 1) * 127.5))) } }
        let (a, b) = (bytes(frame["image"]!), bytes(reference["image"]!))
        let changed = zip(a, b).filter { $0 != $1 }.count, worst = zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
        print("renderer \(name) fp16 vs fp32 uint8 image: \(changed) of \(a.count) values differ, by at most \(worst)")
        #expect(worst <= 2)
    }

    /// Rows whose values reach fp16's range: a LayerNorm that squared or summed in fp16 would overflow to Inf and
    /// return NaN (Real3D-Portrait's fp16 path did); the row kernel keeps mean and variance in fp32.
    @Test func rowLayerNormOfLargeFP16RowsStaysFinite() throws {
        let (device, ops) = try RendererGPU.get()
        let (rows, d) = (64, 32)
        var x = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows { for i in 0..<d { x[r * d + i] = Float(60000) * sin(Float(r * 7 + i * 3) * 0.37) } }
        let gamma = (0..<d).map { 1 + Float($0) * 0.01 }, beta = (0..<d).map { Float($0) * 0.001 }
        func run(_ type: GraphElementType) throws -> [Float] {
            let g = try Graph(name: "row_layer_norm_\(type.rawValue)", ops: ops, activations: type)
            let input = try g.input("x", [rows, d])
            let y = try g.rowLayerNorm(input, weight: try g.constant("gamma", values: gamma, shape: [d]),
                                       bias: try g.constant("beta", values: beta, shape: [d]), eps: 1e-6)
            try g.output("y", y)
            let network = try g.plan()
            try network.write("x", x)
            try network.run()
            return try network.read("y")
        }
        _ = device
        let (half, single) = (try run(.float16), try run(.float32))
        let finite = half.allSatisfy { $0.isFinite }
        #expect(finite)
        let diff = Self.difference(half, single)
        print("row_layer_norm fp16 vs fp32 on rows of |x| ≤ 6e4: max |Δ| \(diff.max), mean |Δ| \(diff.mean)")
        // Normalised outputs are O(1): fp16 input rounding (2⁻¹¹ relative) and output storage give ~1e-3.
        #expect(diff.max <= 4e-3 && diff.mean <= 1e-3)
    }

    /// A frame whose activations are large (SECC maps and images scaled by 10⁵): the motion adapter's first
    /// LayerNorm input (computed here in fp32) exceeds fp16's range, so the fp16 stores saturate at ±65504 instead of
    /// overflowing to Inf, and the norm squares rows far beyond 256 (whose squares overflow fp16) in fp32; the frame stays finite (the renderer also refuses a frame with
    /// NaN or Inf, which would throw here).
    @Test func largeActivationsGiveAFiniteFrame() throws {
        let (renderer, fixture) = try Self.renderer("small", .fp16)
        let scale: Float = 100_000
        var inputs = try MimicTalkRendererTests.inputs(fixture)
        for key in ["cond_cano", "cond_src", "cond_tgt", "ref_torso_img", "bg_img"] { inputs[key] = inputs[key]!.map { $0 * scale } }
        // The first LayerNorm's input (prenet + patch_embed1 in fp32) at this scale.
        let b = fixture.builder("patch_embed_scale"), c = fixture.config
        let secc = try b.g.input("secc", [c.seccIn, c.img, c.img])
        let prenet = try b.conv(secc, "secc_img2plane_backbone.prenet.", out: 3, kernel: 1)
        let embedded = try b.conv(prenet, "secc_img2plane_backbone.mix_vit.patch_embed1.proj.", out: c.mitDims[0], kernel: 7, stride: 4,
                                  padding: 3)
        try b.g.output("embedded", embedded)
        let network = try b.g.plan()
        try network.write("secc", inputs["cond_cano"]! + inputs["cond_src"]! + inputs["cond_tgt"]!)
        try network.run()
        let largest = try network.read("embedded").map { abs($0) }.max() ?? 0
        let frame = try renderer.frame(inputs, dumps: true)
        for (key, values) in frame {
            let finite = values.allSatisfy { $0.isFinite }
            #expect(finite, "\(key) holds NaN or Inf")
        }
        print("renderer small fp16 with inputs ×\(scale): first LayerNorm input max |x| \(largest); max |sr_image| "
              + "\(frame["sr_image"]!.map { abs($0) }.max() ?? 0), max |rgb_torso| \(frame["rgb_torso"]!.map { abs($0) }.max() ?? 0)")
        #expect(largest > 65504, "the scaled inputs should give LayerNorm inputs beyond fp16's range (max |x| \(largest))")
    }
}
