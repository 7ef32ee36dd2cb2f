/// One frame of motion: the coefficients the renderer consumes (e.g. 64-d BFM expression, or the demo
/// head's named expression dimensions), for frame `index` of the session timeline.
public struct MotionFrame: Sendable, Equatable {
    public var index: Int
    public var coefficients: [Float]

    public init(index: Int, coefficients: [Float]) {
        self.index = index
        self.coefficients = coefficients
    }

    /// True when every coefficient is finite (NaN/Inf from bad weights must never be streamed).
    public var isFinite: Bool { coefficients.allSatisfy(\.isFinite) }
}
