public import AvatarStages

/// The log-mel front-end as a session's `AudioFeatureStage`: a row is final as soon as its 400 samples are in
/// (no look-ahead beyond the frame itself). `flush` pads the tail with zeros so the rows cover all audio
/// appended (2 rows per 40 ms motion frame).
public final class LogMelFeatureStage: AudioFeatureStage {
    public let frontEnd: LogMelFrontEnd
    /// Samples from the start of the next row's frame on.
    private var pending: [Float] = []
    /// Samples appended since the last reset (for flush padding).
    private var appended = 0
    private var rowsEmitted = 0

    public init(frontEnd: LogMelFrontEnd) {
        self.frontEnd = frontEnd
    }

    public var rowsPerSecond: Int { frontEnd.config.rowsPerSecond }
    public var dimension: Int { frontEnd.config.melBands }

    public func append(_ samples: [Float]) throws -> FeatureRows {
        pending += samples
        appended += samples.count
        return takeRows()
    }

    public func flush() throws -> FeatureRows {
        // Rows for all audio: one row per hop of audio, so the final (partial) frame is zero-padded.
        let hop = frontEnd.config.hopLength
        let wanted = (appended + hop - 1) / hop
        let missing = wanted - rowsEmitted
        guard missing > 0 else { return FeatureRows(dimension: dimension) }
        let needed = (missing - 1) * hop + frontEnd.config.windowLength
        if pending.count < needed { pending += [Float](repeating: 0, count: needed - pending.count) }
        let rows = takeRows()
        pending.removeAll()
        appended = 0
        rowsEmitted = 0
        return rows
    }

    public func reset() {
        pending.removeAll()
        appended = 0
        rowsEmitted = 0
    }

    private func takeRows() -> FeatureRows {
        let c = frontEnd.config
        let n = c.frames(samples: pending.count)
        guard n > 0 else { return FeatureRows(dimension: dimension) }
        let values = frontEnd.features(Array(pending[0..<((n - 1) * c.hopLength + c.windowLength)]))
        pending.removeFirst(n * c.hopLength)
        rowsEmitted += n
        return FeatureRows(dimension: dimension, values: values)
    }
}
