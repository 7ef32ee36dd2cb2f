import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// One-invocation-per-row norms (Shaders/row_norm.comp) against naive double-precision references on odd shapes.
@Suite(.serialized) struct RowNormTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    @Test func rowL2NormMatchesTheWorkgroupNormAndAReference() throws {
        let gpu = try gpu
        let rows = 13, d = 37
        let x = GPUHarness.random(rows * d, seed: 90, scale: 2), gamma = GPUHarness.random(d, seed: 91), beta = GPUHarness.random(d, seed: 92)
        var out: BufferSlice!, plain: BufferSlice!, reference: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(rows * d)
            plain = try r.output(rows * d)
            reference = try r.output(rows * d)
            let xi = try r.input(x), gi = try r.input(gamma), bi = try r.input(beta)
            try gpu.ops.rowL2Norm(seq, x: xi, gamma: gi, beta: bi, y: out, rows: rows, d: d, scale: 6.5)
            try gpu.ops.rowL2Norm(seq, x: xi, gamma: gi, y: plain, rows: rows, d: d, scale: 6.5)
            try gpu.ops.l2Norm(seq, x: xi, gamma: gi, beta: bi, y: reference, rows: rows, d: d, scale: 6.5)
        }
        var want = [Float](), wantPlain = [Float]()
        for r in 0..<rows {
            let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
            let n = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for i in 0..<d {
                wantPlain.append(Float(row[i] / n * 6.5 * Double(gamma[i])))
                want.append(Float(row[i] / n * 6.5 * Double(gamma[i]) + Double(beta[i])))
            }
        }
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-12, "row_l2_norm with β")
        GPUHarness.expectClose(try plain.read(), wantPlain, nmse: 1e-12, "row_l2_norm")
        GPUHarness.expectClose(try out.read(), try reference.read(), nmse: 1e-12, "row_l2_norm vs l2_norm")
        #expect(try run.guardsIntact())
    }

    /// q/k from fused qkv rows: per-head normalize·γ·scale, then rotate-half rotary at each row's position.
    @Test func qkNormRotaryGathersNormalisesAndRotates() throws {
        #expect(MemoryLayout<QKNormRotaryPush>.size == QKNormRotaryPush.shaderSize)
        let gpu = try gpu
        let s = 2, heads = 3, l = 7, dh = 10, rowStride = 3 * heads * dh + 5, offset = heads * dh + 2
        let qkv = GPUHarness.random(s * l * rowStride, seed: 93, scale: 3)
        let gamma = GPUHarness.random(heads * dh, seed: 94)
        let angles = (0..<(l * dh / 2)).map { Double($0 % (dh / 2) + 1) * Double($0 / (dh / 2) - 2) * 0.37 }
        let cos = angles.map { Float(Foundation.cos($0)) }, sin = angles.map { Float(Foundation.sin($0)) }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(s * heads * l * dh)
            try gpu.ops.qkNormRotary(seq, qkv: try r.input(qkv), gamma: try r.input(gamma), cos: try r.input(cos), sin: try r.input(sin),
                                     y: out, sequences: s, heads: heads, length: l, headDim: dh, rowStride: rowStride, offset: offset,
                                     scale: 3.25)
        }
        var want = [Float]()
        let half = dh / 2
        for si in 0..<s {
            for h in 0..<heads {
                for p in 0..<l {
                    let src = (si * l + p) * rowStride + offset + h * dh
                    let v = qkv[src..<(src + dh)].map(Double.init)
                    let n = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    let u = (0..<dh).map { v[$0] / n * Double(gamma[h * dh + $0]) * 3.25 }
                    var row = [Float](repeating: 0, count: dh)
                    for j in 0..<half {
                        let c = Double(cos[p * half + j]), sn = Double(sin[p * half + j])
                        row[j] = Float(u[j] * c - u[j + half] * sn)
                        row[j + half] = Float(u[j + half] * c + u[j] * sn)
                    }
                    want += row
                }
            }
        }
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-12, "qk_norm_rotary")
        #expect(try run.guardsIntact())
    }
}
