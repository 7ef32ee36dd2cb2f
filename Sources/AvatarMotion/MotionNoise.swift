import Foundation

/// The N(0, 1) source of the motion sampler, one row per motion frame.
///
/// Seeded (sessions): counter-based, so the row of frame f depends only on the seed and f; a frame gets the
/// same noise in every sliding window that contains it (docs/motion.md §2.2) and a session is reproducible
/// from its seed. Value (f, j): counter c = f·dimension + j; two SplitMix64 finalizer outputs
/// a = mix(seed ⊕ mix(2c)), b = mix(seed ⊕ mix(2c + 1)) give u₁ = (a >> 11 + ½)/2⁵³ ∈ (0, 1) and
/// u₂ = (b >> 11)/2⁵³ ∈ [0, 1); the value is the cosine branch of Box–Muller, √(−2 ln u₁)·cos(2π u₂),
/// evaluated in double and rounded to float32.
///
/// Recorded (tests, replaying the reference's injected draw): row f is row f of a fixed table.
public struct MotionNoise: Sendable {
    public let seed: UInt64
    public let dimension: Int
    private let table: [Float]?

    public init(seed: UInt64, dimension: Int) {
        self.seed = seed
        self.dimension = dimension
        self.table = nil
    }

    /// Fixed rows [frames, dimension]; frames past the table get zeros.
    public init(recorded rows: [Float], dimension: Int) {
        self.seed = 0
        self.dimension = dimension
        self.table = rows
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The noise row of motion frame `frame` ([dimension] standard normal values).
    public func row(_ frame: Int) -> [Float] {
        if let table {
            let start = frame * dimension
            guard frame >= 0, start + dimension <= table.count else { return [Float](repeating: 0, count: dimension) }
            return Array(table[start..<(start + dimension)])
        }
        return (0..<dimension).map { j in
            let counter = UInt64(truncatingIfNeeded: frame) &* UInt64(dimension) &+ UInt64(j)
            let a = Self.mix(seed ^ Self.mix(counter &* 2)), b = Self.mix(seed ^ Self.mix(counter &* 2 &+ 1))
            let u1 = (Double(a >> 11) + 0.5) / 9_007_199_254_740_992
            let u2 = Double(b >> 11) / 9_007_199_254_740_992
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
        }
    }
}
