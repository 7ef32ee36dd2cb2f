/// Mean and population variance of the input samples seen so far, in double (the Wav2Vec2 processor's
/// `do_normalize` statistics). Blocks are merged with Chan's parallel update, so appending audio in any
/// packetisation gives the same statistics up to double rounding.
public struct HuBERTInputStatistics: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var mean = 0.0
    /// Sum of squared deviations from the mean.
    private var m2 = 0.0

    public init() {}

    public var variance: Double { count > 0 ? m2 / Double(count) : 0 }

    public mutating func add(_ samples: ArraySlice<Float>) {
        guard !samples.isEmpty else { return }
        let n = samples.count
        var sum = 0.0
        for v in samples { sum += Double(v) }
        let blockMean = sum / Double(n)
        var blockM2 = 0.0
        for v in samples { let e = Double(v) - blockMean; blockM2 += e * e }
        let total = count + n
        let delta = blockMean - mean
        mean += delta * Double(n) / Double(total)
        m2 += blockM2 + delta * delta * Double(count) * Double(n) / Double(total)
        count = total
    }

    /// (x − mean)/√(var + eps) in double, rounded once to float.
    public func normalize(_ samples: ArraySlice<Float>, eps: Double) -> [Float] {
        let sd = (variance + eps).squareRoot()
        let m = mean
        return samples.map { Float((Double($0) - m) / sd) }
    }
}
