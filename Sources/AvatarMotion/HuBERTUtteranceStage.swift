public import AvatarStages

/// HuBERT in utterance mode as a session's `AudioFeatureStage` (offline, `render --window full`): samples are
/// buffered and the rows are computed at `flush` exactly as upstream's inference computes them
/// (`HuBERTEncoder.utteranceFeatures`: the whole utterance normalised once, non-overlapping `chunk_frames`
/// chunks, (N − (R − S)) / S rows; docs/motion.md §1.1 step 6).
///
/// Rows out: upstream's rows, then zero rows up to ⌈N / stride⌉ (the row count every front-end stage gives
/// for N samples, one pair per motion frame). Upstream pads its rows with zeros to a multiple of 8 before the
/// motion model; the full-window motion stage does that padding (`A2MMotionStage.padRowsMultiple`), so for
/// an utterance of whole 40 ms frames (a session always hands over whole frames) the motion model reads
/// exactly upstream's rows: ⌈N / stride⌉ lies between upstream's count and its multiple of 8.
///
/// `append` returns nothing (no row is final before the end of the utterance); `reset` forgets the buffer.
/// Not thread-safe: a session's render thread owns it.
public final class HuBERTUtteranceStage: AudioFeatureStage {
    public let encoder: HuBERTEncoder
    private var samples: [Float] = []

    public init(encoder: HuBERTEncoder) {
        self.encoder = encoder
    }

    public var rowsPerSecond: Int { encoder.config.rowsPerSecond }
    public var dimension: Int { encoder.config.hiddenSize }

    /// Samples buffered since the last flush or reset.
    public var bufferedSamples: Int { samples.count }

    public func append(_ newSamples: [Float]) throws -> FeatureRows {
        samples += newSamples
        return FeatureRows(dimension: dimension)
    }

    public func flush() throws -> FeatureRows {
        defer { reset() }
        guard !samples.isEmpty else { return FeatureRows(dimension: dimension) }
        let stride = encoder.config.stride
        // Fewer samples than one receptive field give no upstream rows (upstream fails there): zero rows.
        var rows = try encoder.utteranceFeatures(samples, padded: false)
        let wanted = (samples.count + stride - 1) / stride
        if rows.count < wanted {
            rows.append(FeatureRows(dimension: dimension, values: [Float](repeating: 0, count: (wanted - rows.count) * dimension)))
        }
        return rows
    }

    public func reset() {
        samples.removeAll()
    }
}
