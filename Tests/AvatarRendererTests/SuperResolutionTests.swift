import AvatarFormats
import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// The super-resolution and fusion (`Renderer.superres`, `style_block`) against the fixture's float64 reference,
/// fed with the reference's own inputs (feature/weights images, torso and background images, torso model outputs),
/// so errors of the NeRF and the torso model do not leak in.
struct SuperResolutionTests {
    static let inputs = ["feature_image", "weights_image", "ref_torso_img", "bg_img", "rgb_torso", "torso_hidden", "torso_alpha"]

    /// Runs srInputs → superResolution on the fixture's inputs (`replaced` overrides some) and returns
    /// person_alpha, sr_image and image.
    static func run(_ f: RendererFixture, replacing replaced: [String: [Float]] = [:]) throws -> [String: [Float]] {
        let c = f.config
        let b = f.builder("sr")
        let (r, n) = (c.nerfRes, c.srRes)
        let feature = try b.g.input("feature_image", [c.hid, r, r])
        let weights = try b.g.input("weights_image", [1, r, r])
        let torsoImage = try b.g.input("ref_torso_img", [3, c.img, c.img])
        let background = try b.g.input("bg_img", [3, c.img, c.img])
        let torso = TorsoOutputs(rgb: try b.g.input("rgb_torso", [3, n, n]), hidden: try b.g.input("torso_hidden", [c.genCh.last!, n, n]),
                                 alpha: try b.g.input("torso_alpha", [1, n, n]))
        let resized = try b.srInputs(feature: feature, weights: weights, torsoImage: torsoImage, background: background)
        let out = try b.superResolution(feature: feature, resized: resized, torso: torso)
        try b.g.output("person_alpha", out.personAlpha)
        try b.g.output("sr_image", out.sr)
        try b.g.output("image", out.image)
        let net = try b.g.plan()
        for key in inputs {
            // The fixture keeps the batch axis the graph drops.
            let fixtureShape = Array(try f.shape(key).dropFirst()), graphShape = try net.shape(key)
            #expect(fixtureShape == graphShape, "\(key): fixture \(fixtureShape), graph \(graphShape)")
            try net.write(key, try replaced[key] ?? f.values(key))
        }
        try net.run()
        var result: [String: [Float]] = [:]
        for key in ["person_alpha", "sr_image", "image"] { result[key] = try net.read(key) }
        #expect(zip(result["sr_image"]!, result["image"]!).allSatisfy { min(max($0, -1), 1) == $1 }, "image is clamp(sr, −1, 1)")
        return result
    }

    // Tolerances. Float32 engine vs the float64 reference rounded to float32: the trunk is ~10 chained 3×3
    // convolutions, each summing a few hundred products of O(1) values; the reference's own fp32-vs-fp64 gap at
    // full size is 5.7e-6 max / 6.6e-7 mean (docs/renderer.md §8), measured here ~6e-7 max / 1e-7 mean. 2e-5 / 2e-6
    // leave room for another summation order and still fail on a wrong tap, padding, weight or blend (≥ 1e-3 on
    // these values). The person alpha is a resize, an add and a clamp: 1e-6.

    /// The frame fixtures (they differ only in what the SR does not read: trigrid depth, torso input 3; cheap to
    /// run both). Their person alpha is exactly 1 everywhere (torso ~0.5 + head ~0.7), so the background branch
    /// is checked by `partialPersonAlpha` below.
    @Test(arguments: ["small", "trigrid"])
    func matchesTheReference(fixture name: String) throws {
        let f = try RendererFixture(name)
        let got = try Self.run(f)
        try f.expectClose(got["person_alpha"]!, "person_alpha", maxAbs: 1e-6, meanAbs: 1e-7)
        try f.expectClose(got["sr_image"]!, "sr_image", maxAbs: 2e-5, meanAbs: 2e-6)
        try f.expectClose(got["image"]!, "image", maxAbs: 2e-5, meanAbs: 2e-6)
    }

    /// small_sr_partial_alpha.safetensors (tools/make_sr_fixture.py): halved weights and a 0 → 1 ramp on the torso
    /// alpha give a person alpha in [0.34, 1] (head alpha > threshold on the top rows), so the background image and
    /// bg_encoder features reach the output.
    @Test func partialPersonAlpha() throws {
        let f = try RendererFixture("small")
        let golden = try SafeTensorsFile(url: RendererFixture.directory.appendingPathComponent("small_sr_partial_alpha.safetensors"))
        let alpha = try golden.tensor("person_alpha").floats()
        #expect(alpha.contains { $0 < 0.5 } && alpha.contains { $0 == 1 }, "the fixture's person alpha spans (0, 1]")
        let got = try Self.run(f, replacing: ["weights_image": try golden.tensor("weights_image").floats(),
                                              "torso_alpha": try golden.tensor("torso_alpha").floats()])
        for (key, maxAbs, meanAbs) in [("person_alpha", 1e-6, 1e-7), ("sr_image", 2e-5, 2e-6), ("image", 2e-5, 2e-6)] {
            let want = try golden.tensor(key).floats(), have = got[key]!
            let d = zip(have, want).map { Double(abs($0 - $1)) }
            let worst = d.max() ?? .infinity, mean = d.reduce(0, +) / Double(max(1, d.count))
            print("renderer small (partial alpha) \(key): max |Δ| \(worst), mean |Δ| \(mean) (tolerances \(maxAbs) / \(meanAbs))")
            #expect(have.count == want.count && worst <= maxAbs && mean <= meanAbs, "\(key): max |Δ| \(worst), mean \(mean)")
        }
    }

    /// The up-sampling StyleGAN layer (conv0 of block0/block1) against a CPU evaluation of the documented semantics
    /// (docs/renderer.md §4.2): zero insertion (H → 2H − 1), pad 2, correlate with the stored kernel (→ 2H + 1),
    /// then the FIR with pad 1 (→ 2H), bias, lrelu(0.2)·√2. Odd, non-square sizes and 11 output channels, so tile
    /// edges, both parities and the clamped channel rows are all exercised; a second run with pad 1 checks the
    /// general parity offsets.
    /// The four-phase up-sampling conv on the row-run kernel equals `upConv2d` (checked against zero insertion above),
    /// on a shape the row-run kernel takes (W % 4 = 0, Cout % 4 = 0) with an odd height.
    @Test func upConvPhasesMatchUpConv() throws {
        let (_, ops) = try RendererGPU.get()
        let (cin, cout, h, w) = (6, 8, 5, 12)
        func values(_ n: Int, _ seed: Int) -> [Float] { (0..<n).map { Float(sin(Double($0 * 7 + seed) * 0.37)) } }
        let g = Graph(name: "up_phases", ops: ops)
        let x = try g.input("x", [cin, h, w])
        let weight = try g.constant("w", values: values(cout * cin * 9, 3), shape: [cout, cin, 3, 3])
        let phases = try g.upConv2dPhases(x, weight: weight)
        #expect(phases.shape == [cout, 2 * h + 1, 2 * w + 1])
        try g.output("phases", phases)
        try g.output("direct", try g.upConv2d(x, weight: weight))
        let net = try g.plan()
        try net.write("x", values(cin * h * w, 11))
        try net.run()
        let (a, b) = (try net.read("phases"), try net.read("direct"))
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        print("up conv phases vs up conv: max |Δ| \(worst)")
        #expect(a.count == b.count && worst <= 1e-5)
        // Four row-run convs, four interleaving copies, plus upConv2d's one dispatch (the phase kernels are read from
        // the constant weight once, at plan time): not the fallback.
        #expect(net.dispatchCount >= 9, "\(net.dispatchCount) dispatches")
    }

    @Test(arguments: [2, 1])
    func upConvMatchesZeroInsertion(padding: Int) throws {
        let (_, ops) = try RendererGPU.get()
        let (cin, cout, h, w) = (5, 11, 7, 9)
        var rng = UpConvTestNoise(seed: UInt64(17 + padding))
        let x = (0..<cin * h * w).map { _ in rng.uniform() }
        let kernel = (0..<cout * cin * 9).map { _ in rng.uniform() }
        let bias = (0..<cout).map { _ in rng.uniform() }
        let tap: [Float] = [1, 3, 3, 1]
        let fir: [Float] = (0..<16).map { (i: Int) -> Float in tap[i / 4] * tap[i % 4] / 16 }  // outer/64 · gain 4

        // CPU: zero-inserted, padded input, correlated.
        let (zh, zw) = (2 * h - 1 + 2 * padding, 2 * w - 1 + 2 * padding)
        var z = [Float](repeating: 0, count: cin * zh * zw)
        for c in 0..<cin { for i in 0..<h { for j in 0..<w { z[(c * zh + 2 * i + padding) * zw + 2 * j + padding] = x[(c * h + i) * w + j] } } }
        let (oh, ow) = (zh - 2, zw - 2)
        var conv = [Float](repeating: 0, count: cout * oh * ow)
        for o in 0..<cout { for i in 0..<oh { for j in 0..<ow {
            var s: Double = 0
            for c in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
                s += Double(kernel[((o * cin + c) * 3 + ky) * 3 + kx]) * Double(z[(c * zh + i + ky) * zw + j + kx])
            } } }
            conv[(o * oh + i) * ow + j] = Float(s)
        } } }
        // FIR pad 1 (correlation; the filter is symmetric), bias, lrelu(0.2)·√2.
        let (fh, fw) = (oh - 1, ow - 1)
        var layer = [Float](repeating: 0, count: cout * fh * fw)
        for o in 0..<cout { for i in 0..<fh { for j in 0..<fw {
            var s: Double = 0
            for ky in 0..<4 { for kx in 0..<4 {
                let (yy, xx) = (i + ky - 1, j + kx - 1)
                if yy >= 0 && yy < oh && xx >= 0 && xx < ow { s += Double(fir[ky * 4 + kx]) * Double(conv[(o * oh + yy) * ow + xx]) }
            } }
            s += Double(bias[o])
            let activated: Double = s >= 0 ? s : 0.2 * s
            layer[(o * fh + i) * fw + j] = Float(activated * Double(2).squareRoot())
        } } }

        let g = Graph(name: "up_conv", ops: ops)
        let input = try g.input("x", [cin, h, w])
        let up = try g.upConv2d(input, weight: try g.constant("w", values: kernel, shape: [cout, cin, 3, 3]), padding: padding)
        #expect(up.shape == [cout, oh, ow])
        try g.output("conv", up)
        if padding == 2 {
            let act = try g.firBiasActivation(up, filter: try g.constant("fir", values: fir, shape: [4, 4]),
                                              bias: try g.constant("b", values: bias, shape: [cout]), padY: (1, 1), padX: (1, 1),
                                              slope: 0.2, gain: Float(2).squareRoot())
            #expect(act.shape == [cout, 2 * h, 2 * w])
            try g.output("layer", act)
        }
        let net = try g.plan()
        try net.write("x", x)
        try net.run()
        // fp32 sums of ≤ 45 products of O(1) values vs a float64 sum: a few ulps of the result.
        func check(_ got: [Float], _ want: [Float], _ what: String) {
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            print("up conv (pad \(padding)) \(what): max |Δ| \(worst) over \(want.count) values")
            #expect(got.count == want.count && worst <= 1e-5, "\(what): max |Δ| \(worst)")
        }
        check(try net.read("conv"), conv, "conv")
        if padding == 2 { check(try net.read("layer"), layer, "conv0 layer") }

        // The storage-buffer variant (the graph's aligned values take the texel one): an input whose last texel
        // would run past the end of its buffer (315 floats) cannot be viewed as RGBA32F texels.
        let (device, _) = try RendererGPU.get()
        let xBuffer = try DeviceBuffer(device: device, byteCount: x.count * 4)
        let xSlice = BufferSlice(buffer: xBuffer, offset: 0, byteCount: x.count * 4)
        #expect(x.count % 4 != 0 && !xSlice.texelViewable(alignment: device.texelAlignment))
        try xSlice.write(x)
        let arena = try BufferArena(device: device, byteCount: 1 << 20)
        let wSlice = try arena.allocate(floats: kernel.count), ySlice = try arena.allocate(floats: conv.count)
        try wSlice.write(kernel)
        let seq = try CommandSequence(device: device)
        try ops.upConv2d(seq, x: xSlice, weight: wSlice, bias: nil, y: ySlice, cin: cin, h: h, w: w, cout: cout, kernel: (3, 3),
                         padding: (padding, padding))
        try seq.run()
        check(try ySlice.read(count: conv.count), conv, "conv (storage-buffer variant)")
    }
}

/// A small deterministic generator for test data (uniform in [−1, 1)).
private struct UpConvTestNoise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
}
