/// The sliding window of the streaming sampler (docs/motion.md §2.2), in motion frames: `hop` frames emitted
/// per window, `lookahead` future frames predicted and discarded, `leftContext` emitted frames fed back as
/// prompt. Algorithmic latency = (hop + lookahead) frames.
public struct StreamingPlan: Sendable, Equatable {
    public var hop: Int
    public var lookahead: Int
    public var leftContext: Int

    public init(hop: Int, lookahead: Int, leftContext: Int) {
        self.hop = hop
        self.lookahead = lookahead
        self.leftContext = leftContext
    }

    public func latencyMs(fps: Int) -> Int { 1000 * (hop + lookahead) / fps }
}
