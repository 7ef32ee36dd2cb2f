/// The sliding window of the streaming sampler (docs/motion.md §2.2), in motion frames: `hop` frames emitted
/// per window, `lookahead` future frames predicted and discarded, `leftContext` frames before the window's
/// targets, entering as `context` says. Algorithmic latency = (hop + lookahead) frames.
public struct StreamingPlan: Sendable, Equatable {
    /// How the left context enters a window.
    public enum Context: String, Sendable, Equatable, CaseIterable {
        /// The emitted frames are fed back as prompt rows (motion + features): the window continues its own
        /// output, as upstream's in-context prompt does.
        case motion
        /// The context frames' features enter as target rows with their own noise rows, sampled again and
        /// discarded: the window hears the past audio but is never fed its own output, so errors do not carry
        /// over from window to window (no drift).
        case audio
    }

    public var hop: Int
    public var lookahead: Int
    public var leftContext: Int
    public var context: Context

    public init(hop: Int, lookahead: Int, leftContext: Int, context: Context = .motion) {
        self.hop = hop
        self.lookahead = lookahead
        self.leftContext = leftContext
        self.context = context
    }

    public func latencyMs(fps: Int) -> Int { 1000 * (hop + lookahead) / fps }
}
