import Foundation

/// The seedable N(0, 1) source of the motion sampler. Counter-based: the value for (frame, dimension) depends
/// only on the seed and those indices, so a frame gets the same noise in every sliding window that contains
/// it (docs/motion.md §2.2) and a session is reproducible from its seed. Two SplitMix64 outputs of the counter
/// give the uniforms of a Box–Muller transform (the cosine branch).
public struct MotionNoise: Sendable {
    public let seed: UInt64
    public let dimension: Int

    public init(seed: UInt64, dimension: Int) {
        self.seed = seed
        self.dimension = dimension
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The noise row of motion frame `frame` ([dimension] standard normal values).
    public func row(_ frame: Int) -> [Float] {
        (0..<dimension).map { j in
            let counter = UInt64(frame) &* UInt64(dimension) &+ UInt64(j)
            let a = Self.mix(seed ^ Self.mix(counter &* 2)), b = Self.mix(seed ^ Self.mix(counter &* 2 &+ 1))
            let u1 = (Double(a >> 11) + 0.5) / 9_007_199_254_740_992
            let u2 = Double(b >> 11) / 9_007_199_254_740_992
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
        }
    }
}
