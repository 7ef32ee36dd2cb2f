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

extension CPUReference {
    static func conv1d(_ x: [Float], _ w: [Float], _ b: [Float]?, cin: Int, l: Int, cout: Int, k: Int, stride: Int, pad: Int,
                       dilation: Int, groups: Int) -> [Float] {
        let ol = (l + 2 * pad - dilation * (k - 1) - 1) / stride + 1
        let cpg = cin / groups, opg = cout / groups
        var y = [Float](repeating: 0, count: cout * ol)
        for co in 0..<cout {
            let g = co / opg
            for o in 0..<ol {
                var s = Double(b?[co] ?? 0)
                for ci in 0..<cpg {
                    for t in 0..<k {
                        let i = o * stride + t * dilation - pad
                        guard i >= 0, i < l else { continue }
                        s += Double(x[(g * cpg + ci) * l + i]) * Double(w[(co * cpg + ci) * k + t])
                    }
                }
                y[co * ol + o] = Float(s)
            }
        }
        return y
    }

    static func conv3d(_ x: [Float], _ w: [Float], _ b: [Float]?, cin: Int, d: Int, h: Int, wd: Int, cout: Int, k: Int,
                       stride: Int, pad: Int) -> [Float] {
        let od = (d + 2 * pad - k) / stride + 1, oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1
        var y = [Float](repeating: 0, count: cout * od * oh * ow)
        for co in 0..<cout {
            for oz in 0..<od {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s = Double(b?[co] ?? 0)
                        for ci in 0..<cin {
                            for kz in 0..<k {
                                let iz = oz * stride + kz - pad
                                guard iz >= 0, iz < d else { continue }
                                for ky in 0..<k {
                                    let iy = oy * stride + ky - pad
                                    guard iy >= 0, iy < h else { continue }
                                    for kx in 0..<k {
                                        let ix = ox * stride + kx - pad
                                        guard ix >= 0, ix < wd else { continue }
                                        s += Double(x[((ci * d + iz) * h + iy) * wd + ix]) * Double(w[(((co * cin + ci) * k + kz) * k + ky) * k + kx])
                                    }
                                }
                            }
                        }
                        y[((co * od + oz) * oh + oy) * ow + ox] = Float(s)
                    }
                }
            }
        }
        return y
    }

    /// Scatter form of the transposed convolution (independent of the shader's gather form).
    static func convTranspose2d(_ x: [Float], _ w: [Float], _ b: [Float]?, cin: Int, h: Int, wd: Int, cout: Int, k: Int,
                                stride: Int, pad: Int, outPad: Int, groups: Int) -> [Float] {
        let oh = (h - 1) * stride - 2 * pad + k + outPad, ow = (wd - 1) * stride - 2 * pad + k + outPad
        let cpg = cin / groups, opg = cout / groups
        var y = [Double](repeating: 0, count: cout * oh * ow)
        for ci in 0..<cin {
            let g = ci / cpg
            for iy in 0..<h {
                for ix in 0..<wd {
                    let v = Double(x[(ci * h + iy) * wd + ix])
                    for o in 0..<opg {
                        let co = g * opg + o
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let oy = iy * stride + ky - pad, ox = ix * stride + kx - pad
                                guard oy >= 0, oy < oh, ox >= 0, ox < ow else { continue }
                                y[(co * oh + oy) * ow + ox] += v * Double(w[((ci * opg + o) * k + ky) * k + kx])
                            }
                        }
                    }
                }
            }
        }
        for co in 0..<cout { for i in 0..<(oh * ow) { y[co * oh * ow + i] += Double(b?[co] ?? 0) } }
        return y.map(Float.init)
    }
}
