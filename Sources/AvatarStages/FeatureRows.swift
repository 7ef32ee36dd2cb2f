/// A block of audio feature rows at the front-end's rate (e.g. 50 Hz HuBERT or log-mel frames), row-major.
public struct FeatureRows: Sendable, Equatable {
    public var dimension: Int
    public var values: [Float]

    public init(dimension: Int, values: [Float] = []) {
        precondition(dimension > 0 && values.count % dimension == 0, "feature values must be whole rows")
        self.dimension = dimension
        self.values = values
    }

    public var count: Int { values.count / dimension }
    public var isEmpty: Bool { values.isEmpty }

    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * dimension)..<((i + 1) * dimension)] }

    public mutating func append(_ other: FeatureRows) {
        precondition(other.dimension == dimension, "feature dimension mismatch")
        values.append(contentsOf: other.values)
    }
}
