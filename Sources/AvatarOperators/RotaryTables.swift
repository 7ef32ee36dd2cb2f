import Foundation

/// Host-computed rotary tables (in Double, then rounded): cos and sin [positions, dim/2] of
/// position·θ^(−2i/dim). Positions such as the A2M register tokens' −10000 make shader sin/cos inaccurate.
public struct RotaryTables: Sendable {
    public let cos: [Float]
    public let sin: [Float]
    public let positions: Int
    public let halfDim: Int

    public init(positions: [Double], dim: Int, theta: Double) {
        let half = dim / 2
        var c = [Float](), s = [Float]()
        c.reserveCapacity(positions.count * half)
        s.reserveCapacity(positions.count * half)
        for p in positions {
            for i in 0..<half {
                let angle = p * Foundation.pow(theta, -2.0 * Double(i) / Double(dim))
                c.append(Float(Foundation.cos(angle)))
                s.append(Float(Foundation.sin(angle)))
            }
        }
        self.cos = c
        self.sin = s
        self.positions = positions.count
        self.halfDim = half
    }
}
