import Foundation

/// Naive CPU references (double accumulation) that the shaders are compared with.
enum CPUReference {
    static func matmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeB: Bool, bias: [Float]? = nil, alpha: Float = 1) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for t in 0..<k { s += Double(a[i * k + t]) * Double(transposeB ? b[j * k + t] : b[t * n + j]) }
                c[i * n + j] = Float(s) * alpha + (bias?[j] ?? 0)
            }
        }
        return c
    }

    static func softmax(_ x: [Float], rows: Int, d: Int, scale: Float, mask: [Float]?) -> [Float] {
        var y = x
        for r in 0..<rows {
            let row = (0..<d).map { Double(x[r * d + $0] * scale) + Double(mask?[$0] ?? 0) }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for i in 0..<d { y[r * d + i] = Float(e[i] / s) }
        }
        return y
    }

    static func geglu(_ x: [Float], rows: Int, d: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows {
            for c in 0..<d {
                let g = Double(x[r * 2 * d + d + c])
                y[r * d + c] = Float(Double(x[r * 2 * d + c]) * 0.5 * g * (1 + erf(g / 2.0.squareRoot())))
            }
        }
        return y
    }

    static func conv2d(_ x: [Float], _ w: [Float], _ b: [Float]?, cin: Int, h: Int, wd: Int, cout: Int, kh: Int, kw: Int,
                       stride: Int, pad: Int, groups: Int) -> [Float] {
        let oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1
        let cpg = cin / groups, opg = cout / groups
        var y = [Float](repeating: 0, count: cout * oh * ow)
        for co in 0..<cout {
            let g = co / opg
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s = Double(b?[co] ?? 0)
                    for ci in 0..<cpg {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let iy = oy * stride + ky - pad, ix = ox * stride + kx - pad
                                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                s += Double(x[((g * cpg + ci) * h + iy) * wd + ix]) * Double(w[((co * cpg + ci) * kh + ky) * kw + kx])
                            }
                        }
                    }
                    y[(co * oh + oy) * ow + ox] = Float(s)
                }
            }
        }
        return y
    }
}
