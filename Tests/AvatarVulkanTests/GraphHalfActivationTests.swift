import AvatarFormats
import AvatarGraph
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// Graphs with fp16 activations: intermediates really are fp16 (arena bytes, value types), results stay close
/// to fp32, norms survive values whose squares overflow fp16, and unsupported uses are refused when the graph
/// is built, naming the node.
@Suite(.serialized) struct GraphHalfActivationTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    /// A chain x [rows, dim] → linear(dim→hidden) → gelu → linear(hidden→hidden) → gelu → linear(hidden→dim) with
    /// weights from a store; returns the graph and its intermediate values.
    static func chain(_ gpu: GPUHarness, activations: GraphElementType, store: WeightStore, rows: Int, dim: Int, hidden: Int) throws
        -> (Graph, [GraphValue]) {
        let g = try Graph(name: "chain", ops: gpu.ops, activations: activations)
        let w = g.weights(store)
        let x = try g.input("x", [rows, dim])
        let h1 = try g.linear(x, try w.weight("fc1", [hidden, dim]))
        let a1 = try g.gelu(h1)
        let h2 = try g.linear(a1, try w.weight("fc2", [hidden, hidden]))
        let a2 = try g.gelu(h2)
        let y = try g.linear(a2, try w.weight("fc3", [dim, hidden]))
        try g.output("y", y)
        return (g, [x, h1, a1, h2, a2, y])
    }

    @Test func halfGraphAllocatesHalfIntermediatesAndStaysCloseToFP32() throws {
        let gpu = try gpu
        let (rows, dim, hidden) = (64, 64, 512)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-half-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var writer = SafeTensorsWriter()
        writer.add("fc1", shape: [hidden, dim], floats: GPUHarness.random(hidden * dim, seed: 71, scale: 0.2))
        writer.add("fc2", shape: [hidden, hidden], floats: GPUHarness.random(hidden * hidden, seed: 72, scale: 0.06))
        writer.add("fc3", shape: [dim, hidden], floats: GPUHarness.random(dim * hidden, seed: 73, scale: 0.06))
        try writer.write(to: url)
        let store = try WeightStore(url: url, device: gpu.device)

        let (g32, v32) = try Self.chain(gpu, activations: .float32, store: store, rows: rows, dim: dim, hidden: hidden)
        let (g16, v16) = try Self.chain(gpu, activations: .float16, store: store, rows: rows, dim: dim, hidden: hidden)
        #expect(v32.allSatisfy { $0.elementType == .float32 })
        // The input the builder calls see is the fp16 copy of the host's fp32 input; every result is fp16.
        #expect(v16.allSatisfy { $0.elementType == .float16 }, "\(v16)")
        let (n32, n16) = (try g32.plan(GraphPlanOptions(io: .direct)), try g16.plan(GraphPlanOptions(io: .direct)))
        // Temporaries without reuse: fp32 h1, a1, h2, a2 ([rows, hidden] × 4 bytes each; x and y live in the I/O
        // buffer); fp16 the same four at 2 bytes, plus the fp16 copies of x and of y (converted to the fp32 output).
        #expect(n32.unsharedBytes == 4 * rows * hidden * 4)
        #expect(n16.unsharedBytes == 4 * rows * hidden * 2 + 2 * rows * dim * 2)
        #expect(Double(n16.planBytes) <= 0.55 * Double(n32.planBytes), "arena \(n16.planBytes) vs \(n32.planBytes)")

        let input = GPUHarness.random(rows * dim, seed: 74)
        for net in [n32, n16] {
            try net.write("x", input)
            try net.run()
        }
        let (y32, y16) = (try n32.read("y"), try n16.read("y"))
        // fp16 rounding of each stored value (2^-11 relative) through three layers: NMSE ≈ (a few · 2^-11)² ≈ 1e-6.
        GPUHarness.expectClose(y16, y32, nmse: 1e-5, "fp16 chain vs fp32")
        #expect(y16 != y32, "fp16 activations gave bit-identical results: they were not stored as fp16")
    }

    /// Unaligned shapes take the scalar matmul variants (A fp16 with B fp32 or fp16) and the composed attention's
    /// fp16 scores and softmax; fp16 must stay within fp16 rounding of fp32 and write every output element.
    @Test func unalignedMatmulAndComposedAttentionFollowFP32() throws {
        let gpu = try gpu
        let (rows, k, heads, d) = (13, 7, 3, 5)
        let weights = GPUHarness.random(k * 2 * heads * d, seed: 76)
        let input = GPUHarness.random(rows * k, seed: 77)
        var outputs: [[Float]] = []
        for activations in [GraphElementType.float32, .float16] {
            let g = try Graph(name: "odd", ops: gpu.ops, activations: activations)
            let x = try g.input("x", [rows, k])
            let y = try g.matmul(x, try g.constant("w", values: weights, shape: [k, 2 * heads * d]))
            let q = try g.reshape(try g.slice(y, axis: 1, start: 0, length: heads * d), [heads, rows, d])
            let kv = try g.reshape(try g.slice(y, axis: 1, start: heads * d, length: heads * d), [heads, rows, d])
            try g.output("o", try g.attention(q: q, k: kv, v: kv, scale: 0.7, fused: false))
            let net = try g.plan()
            try net.write("x", input)
            try net.run()
            outputs.append(try net.read("o"))
        }
        let finite = outputs[1].allSatisfy { $0.isFinite }
        #expect(finite)
        GPUHarness.expectClose(outputs[1], outputs[0], nmse: 1e-5, "fp16 odd matmul + composed attention vs fp32")
        #expect(outputs[1] != outputs[0])
    }

    /// Rows of magnitude ~3000 overflow a LayerNorm that sums squares in fp16 (3000² > 65504); scaled by 40 they
    /// overflow fp16 storage itself. Statistics are fp32 and stores clamp to ±65504, so both come out finite.
    @Test func layerNormStaysFiniteWhereNaiveHalfOverflows() throws {
        let gpu = try gpu
        let (rows, d) = (6, 256)
        for gain in [Float(1), 40] {
            let g = try Graph(name: "overflow", ops: gpu.ops, activations: .float16)
            let x = try g.input("x", [rows, d])
            let scaled = try g.scaleShift(x, scale: try g.constant("gain", values: [Float](repeating: gain, count: d), shape: [d]),
                                          shift: try g.constant("zero", values: [Float](repeating: 0, count: d), shape: [d]), axis: 1)
            let ones = try g.constant("gamma", values: [Float](repeating: 1, count: d), shape: [d])
            try g.output("y", try g.layerNorm(scaled, weight: ones, bias: nil, eps: 1e-5))
            let net = try g.plan()
            let input = GPUHarness.random(rows * d, seed: 75, scale: 1000).enumerated().map { $0.element + ($0.offset % 2 == 0 ? 2000 : -2000) }
            try net.write("x", input)
            try net.run()
            let y = try net.read("y")
            let finite = y.allSatisfy { $0.isFinite }
            #expect(finite, "gain \(gain): NaN or Inf")
            guard gain == 1 else {
                // Clamped rows are still normalised: mean ≈ 0, values within ±√d.
                let bounded = y.allSatisfy { abs($0) <= Float(d).squareRoot() }
                #expect(bounded)
                continue
            }
            // Reference: LayerNorm in Double of the fp16-rounded input; the output is rounded to fp16 once more.
            var want: [Float] = []
            for r in 0..<rows {
                let row = input[(r * d)..<((r + 1) * d)].map { Double(Float(Float16($0))) }
                let mean = row.reduce(0, +) / Double(d)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
                want += row.map { Float(($0 - mean) / (variance + 1e-5).squareRoot()) }
            }
            let err = zip(y, want).map { abs($0 - $1) }.max() ?? 0
            // fp32 statistics of ±3000 values (relative 2^-24 each, sums of 256) and one fp16 rounding of the output.
            #expect(err <= 4 * Float(pow(2.0, -11.0)) * (want.map(abs).max() ?? 1), "max |Δ| \(err)")
        }
    }

    @Test func unsupportedUsesAreRefusedWhenTheGraphIsBuilt() throws {
        let gpu = try gpu
        // A device without 16-bit storage buffers cannot take the option.
        var info = gpu.device.info
        info.storageBuffer16BitAccess = false
        do {
            try Operators.checkHalfActivations(info)
            Issue.record("fp16 activations accepted without storageBuffer16BitAccess")
        } catch {
            #expect("\(error)".contains("storageBuffer16BitAccess"), "\(error)")
        }
        #expect(throws: GraphError.self) { try Graph(name: "u", ops: gpu.ops, activations: .uint32) }

        let g = try Graph(name: "half", ops: gpu.ops, activations: .float16)
        // An fp32 value where the graph's activations are fp16: the node and both types are named.
        let p = try g.input("p", [4, 8], .float32)
        let ones = try g.constant("ones", values: [Float](repeating: 1, count: 8), shape: [8])
        do {
            _ = try g.layerNorm(p, weight: ones, bias: nil, eps: 1e-5)
            Issue.record("an fp32 activation was accepted by an fp16 graph")
        } catch let error as GraphError {
            #expect(error.message.contains("half.layer_norm") && error.message.contains("float32") && error.message.contains("float16"), "\(error)")
        }
        // An operator without fp16-activation variants refuses an fp16 activation.
        let image = try g.input("image", [3, 8, 8])
        let grid = try g.input("grid", [16, 2], .float32)
        do {
            _ = try g.group("decoder") { try g.gridSample2D(image, grid: grid) }
            Issue.record("grid_sample2d accepted an fp16 activation")
        } catch let error as GraphError {
            #expect(error.message.contains("half.decoder.grid_sample2d") && error.message.contains("no fp16-activation variant"), "\(error)")
        }
        // A mix the operators do not store (softplus has an fp32 variant only) is named at build time, not at plan time.
        let a = try g.input("a", [4, 8])
        do {
            _ = try g.activation(.softplus, a)
            Issue.record("softplus accepted an fp16 operand")
        } catch let error as GraphError {
            #expect(error.message.contains("half.softplus") && error.message.contains("softplus has no variant"), "\(error)")
        }
    }
}
