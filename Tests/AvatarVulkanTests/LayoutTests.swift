import Foundation
import AvatarOperators
import AvatarVulkan
import Testing

/// Layout, scan, sort and search operators, rotary, RMS norm, scale/shift and attention.
@Suite(.serialized) struct LayoutTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    @Test func permuteSliceConcat() throws {
        let gpu = try gpu
        let shape = [3, 5, 7, 2]
        let x = GPUHarness.random(shape.reduce(1, *), seed: 40)
        let other = GPUHarness.random(3 * 4 * 7 * 2, seed: 41)
        var perm: BufferSlice!, sliced: BufferSlice!, cat: BufferSlice!
        let run = try gpu.run { seq, r in
            perm = try r.output(x.count)
            sliced = try r.output(3 * 2 * 7 * 2)
            cat = try r.output(3 * 9 * 7 * 2)
            let xi = try r.input(x)
            try gpu.ops.permute(seq, x: xi, y: perm, shape: shape, order: [2, 0, 3, 1])
            try gpu.ops.slice(seq, x: xi, y: sliced, shape: shape, axis: 1, start: 2, length: 2)
            try gpu.ops.concat(seq, parts: [(xi, shape), (try r.input(other), [3, 4, 7, 2])], y: cat, axis: 1)
        }
        func at(_ v: [Float], _ s: [Int], _ i: [Int]) -> Float { v[((i[0] * s[1] + i[1]) * s[2] + i[2]) * s[3] + i[3]] }
        var wantPerm: [Float] = [], wantSlice: [Float] = [], wantCat: [Float] = []
        for a in 0..<7 { for b in 0..<3 { for c in 0..<2 { for d in 0..<5 { wantPerm.append(at(x, shape, [b, d, a, c])) } } } }
        for a in 0..<3 { for b in 0..<2 { for c in 0..<7 { for d in 0..<2 { wantSlice.append(at(x, shape, [a, b + 2, c, d])) } } } }
        for a in 0..<3 { for b in 0..<9 { for c in 0..<7 { for d in 0..<2 {
            wantCat.append(b < 5 ? at(x, shape, [a, b, c, d]) : at(other, [3, 4, 7, 2], [a, b - 5, c, d]))
        } } } }
        #expect(try perm.read() == wantPerm)
        #expect(try sliced.read() == wantSlice)
        #expect(try cat.read() == wantCat)
        #expect(try run.guardsIntact())
    }

    /// Fused attention: a query whose keys are all masked gets zeros (no NaN), the others are unaffected.
    @Test func fusedAttentionWithAFullyMaskedQuery() throws {
        let gpu = try gpu
        let (lq, lk, d) = (3, 5, 4)
        let q = GPUHarness.random(lq * d, seed: 57), k = GPUHarness.random(lk * d, seed: 58), v = GPUHarness.random(lk * d, seed: 59)
        var mask = [Float](repeating: 0, count: lq * lk)
        for j in 0..<lk { mask[lk + j] = -.infinity }   // query 1 sees no key
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(lq * d)
            try gpu.ops.attention(seq, q: try r.input(q), k: try r.input(k), v: try r.input(v), out: out, heads: 1, queries: lq, keys: lk,
                                  headDim: d, scale: 1, mask: try r.input(mask), maskRows: lq)
        }
        let got = try out.read()
        #expect(Array(got[d..<(2 * d)]) == [0, 0, 0, 0])
        #expect(got.allSatisfy { $0.isFinite })
        #expect(try run.guardsIntact())
    }

    @Test func cumulativeMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("scan.input").floats()
        var sum: BufferSlice!, prod: BufferSlice!, exclusive: BufferSlice!
        let run = try gpu.run { seq, r in
            sum = try r.output(x.count)
            prod = try r.output(x.count)
            exclusive = try r.output(x.count)
            let xi = try r.input(x)
            try gpu.ops.cumulative(seq, .sum, x: xi, y: sum, rows: 3, d: 47)
            try gpu.ops.cumulative(seq, .product, x: xi, y: prod, rows: 3, d: 47)
            try gpu.ops.cumulative(seq, .product, x: xi, y: exclusive, rows: 3, d: 47, exclusive: true)
        }
        let cumprod = try g.tensor("scan.cumprod").floats()
        GPUHarness.expectClose(try sum.read(), try g.tensor("scan.cumsum").floats(), nmse: 1e-12, "cumsum")
        GPUHarness.expectClose(try prod.read(), cumprod, nmse: 1e-12, "cumprod")
        let shifted = (0..<3).flatMap { r in [Float(1)] + cumprod[(r * 47)..<(r * 47 + 46)] }
        GPUHarness.expectClose(try exclusive.read(), shifted, nmse: 1e-12, "exclusive cumprod")
        #expect(try run.guardsIntact())
    }

    @Test func sortRowsMatchesStableTorchSort() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("sort.input").floats()
        var values: BufferSlice!, indices: BufferSlice!, descending: BufferSlice!, descIdx: BufferSlice!
        let run = try gpu.run { seq, r in
            values = try r.output(x.count)
            indices = try r.output(x.count)
            descending = try r.output(x.count)
            descIdx = try r.output(x.count)
            let xi = try r.input(x)
            try gpu.ops.sortRows(seq, x: xi, y: values, indices: indices, rows: 3, d: 96)
            try gpu.ops.sortRows(seq, x: xi, y: descending, indices: descIdx, rows: 3, d: 96, descending: true)
        }
        #expect(try values.read() == g.tensor("sort.values").floats())
        #expect(try GPUHarness.readIndices(indices) == g.tensor("sort.indices").floats().map { Int($0) })
        let got = try descending.read(), gotIdx = try GPUHarness.readIndices(descIdx)
        for r in 0..<3 {
            let row = Array(x[(r * 96)..<(r * 96 + 96)])
            #expect(Array(got[(r * 96)..<(r * 96 + 96)]) == row.sorted(by: >))
            #expect(gotIdx[(r * 96)..<(r * 96 + 96)].map { row[$0] } == row.sorted(by: >))
        }
        #expect(try run.guardsIntact())
    }

    @Test func searchSortedMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let sorted = try g.tensor("searchsorted.sorted").floats(), values = try g.tensor("searchsorted.values").floats()
        var left: BufferSlice!, right: BufferSlice!
        let run = try gpu.run { seq, r in
            left = try r.output(values.count)
            right = try r.output(values.count)
            let s = try r.input(sorted), v = try r.input(values)
            try gpu.ops.searchSorted(seq, sorted: s, values: v, indices: left, rows: 3, sortedCount: 47, queryCount: 48, right: false)
            try gpu.ops.searchSorted(seq, sorted: s, values: v, indices: right, rows: 3, sortedCount: 47, queryCount: 48, right: true)
        }
        #expect(try GPUHarness.readIndices(left) == g.tensor("searchsorted.left").floats().map { Int($0) })
        #expect(try GPUHarness.readIndices(right) == g.tensor("searchsorted.right").floats().map { Int($0) })
        #expect(try run.guardsIntact())
    }

    @Test func rotaryMatchesPyTorchWithRegisterPositions() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("rotary.input").floats()
        let tables = RotaryTables(positions: [-10000, -10000, 0, 1, 2, 3, 4], dim: 8, theta: 50000)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(x.count)
            try gpu.ops.rotary(seq, x: try r.input(x), cos: try r.input(tables.cos), sin: try r.input(tables.sin), y: out,
                               rows: 14, d: 8, positions: 7)
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("rotary.output").floats(), nmse: 1e-12, "rotary")
        #expect(try run.guardsIntact())
    }

    @Test func rmsNormAndLayerNorm1e6MatchPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("norm.input").floats(), gamma = try g.tensor("norm.gamma").floats()
        var rms: BufferSlice!, layer: BufferSlice!
        let run = try gpu.run { seq, r in
            rms = try r.output(x.count)
            layer = try r.output(x.count)
            let xi = try r.input(x), gi = try r.input(gamma)
            try gpu.ops.rmsNorm(seq, x: xi, gamma: gi, y: rms, rows: 5, d: 13, eps: 1e-6)
            try gpu.ops.layerNorm(seq, x: xi, gamma: gi, beta: nil, y: layer, rows: 5, d: 13, eps: 1e-6)
        }
        GPUHarness.expectClose(try rms.read(), try g.tensor("norm.rms").floats(), nmse: 1e-10, "RMS norm")
        GPUHarness.expectClose(try layer.read(), try g.tensor("norm.layer_1e-6").floats(), nmse: 1e-10, "LayerNorm eps 1e-6")
        #expect(try run.guardsIntact())
    }

    /// Eval BatchNorm folded to per-channel scale/shift over [C, H·W].
    @Test func foldedBatchNorm() throws {
        let gpu = try gpu
        let (c, hw) = (7, 13)
        let x = GPUHarness.random(c * hw, seed: 42), mean = GPUHarness.random(c, seed: 43), gamma = GPUHarness.random(c, seed: 44)
        let beta = GPUHarness.random(c, seed: 45), variance = GPUHarness.random(c, seed: 46).map { $0 * $0 + 0.1 }
        let scale = (0..<c).map { gamma[$0] / (variance[$0] + 1e-5).squareRoot() }
        let shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(x.count)
            try gpu.ops.scaleShift(seq, x: try r.input(x), scale: try r.input(scale), shift: try r.input(shift), y: out,
                                   count: c * hw, channels: c, inner: hw)
        }
        let want = x.indices.map { i -> Float in
            let ch = i / hw
            return Float((Double(x[i]) - Double(mean[ch])) / (Double(variance[ch]) + 1e-5).squareRoot() * Double(gamma[ch]) + Double(beta[ch]))
        }
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-12, "folded BatchNorm")
        #expect(try run.guardsIntact())
    }

    /// SDPA with logit scale 10 and a padding mask (−inf on the last two keys): fused and composed, a small
    /// head dim and the A2M one (64).
    @Test(arguments: [(3, 7, 9, 8, true), (3, 7, 9, 8, false), (2, 13, 37, 64, true), (2, 13, 37, 64, false), (1, 5, 6, 6, true)])
    func attentionWithScaleAndPaddingMask(h: Int, lq: Int, lk: Int, d: Int, fused: Bool) throws {
        let gpu = try gpu
        let q = GPUHarness.random(h * lq * d, seed: 47, scale: 0.3), k = GPUHarness.random(h * lk * d, seed: 48, scale: 0.3)
        let v = GPUHarness.random(h * lk * d, seed: 49)
        let mask = (0..<lk).map { $0 >= lk - 2 ? -Float.infinity : 0 }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(h * lq * d)
            let scores = try r.output(h * lq * lk)
            try gpu.ops.attention(seq, q: try r.input(q), k: try r.input(k), v: try r.input(v), out: out, scores: scores, heads: h,
                                  queries: lq, keys: lk, headDim: d, scale: 10, mask: try r.input(mask), fused: fused)
        }
        var want = [Float]()
        for head in 0..<h {
            for i in 0..<lq {
                var logits = (0..<lk).map { j -> Double in
                    var s = 0.0
                    for t in 0..<d { s += Double(q[(head * lq + i) * d + t]) * Double(k[(head * lk + j) * d + t]) }
                    return s * 10 + Double(mask[j])
                }
                let m = logits.max()!
                logits = logits.map { Foundation.exp($0 - m) }
                let total = logits.reduce(0, +)
                for t in 0..<d {
                    want.append(Float((0..<lk).map { logits[$0] / total * Double(v[(head * lk + $0) * d + t]) }.reduce(0, +)))
                }
            }
        }
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "attention h\(h) lq\(lq) lk\(lk) d\(d) fused=\(fused)")
        #expect(try run.guardsIntact())
    }
}
