public import AvatarStages

/// HuBERT in utterance mode as a session's `AudioFeatureStage` (offline, `render --window full`): samples are
/// buffered and the rows are computed at `flush` exactly as upstream's inference computes them
/// (`HuBERTEncoder.utteranceFeatures`: the whole utterance normalised once, non-overlapping `chunk_frames`
/// chunks, (N − (R − S)) / S rows; docs/motion.md §1.1 step 6).
///
/// Rows out: upstream's rows, then zero rows up to ⌈N / stride⌉ (the row count every front-end stage gives
/// for N samples, one pair per motion frame) but never past upstream's multiple of 8 (`padMultiple`). Upstream
/// pads its rows with zeros to that multiple before the motion model; the full-window motion stage does that
/// padding (`A2MMotionStage.padRowsMultiple`), so the motion model reads exactly upstream's rows. For an
/// utterance of whole 40 ms frames ⌈N / stride⌉ lies within the multiple; for a file's own samples
/// (`render --window full`) it may not, and the sample then ends half a frame before the audio (the session
/// repeats the last frame there).
///
/// `append` returns nothing (no row is final before the end of the utterance); `reset` forgets the buffer.
/// Not thread-safe: a session's render thread owns it.
public final class HuBERTUtteranceStage: AudioFeatureStage {
    public let encoder: HuBERTEncoder
    /// Upstream's row multiple (`get_hubert` pads to 8).
    public let padMultiple: Int
    private var samples: [Float] = []

    public init(encoder: HuBERTEncoder, padMultiple: Int = 8) {
        self.encoder = encoder
        self.padMultiple = max(1, padMultiple)
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
        let upstreamPadded = (rows.count + padMultiple - 1) / padMultiple * padMultiple
        let wanted = rows.count == 0 ? (samples.count + stride - 1) / stride : min((samples.count + stride - 1) / stride, upstreamPadded)
        if rows.count < wanted {
            rows.append(FeatureRows(dimension: dimension, values: [Float](repeating: 0, count: (wanted - rows.count) * dimension)))
        }
        return rows
    }

    public func reset() {
        samples.removeAll()
    }
}
