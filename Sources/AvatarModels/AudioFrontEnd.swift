import AvatarMotion
import AvatarOperators
import AvatarStages

/// The audio front-end of a bundle avatar: log-mel (CPU) or HuBERT (Vulkan). Shared read-only per avatar;
/// `makeStage()` gives a session its own streaming stage.
enum AudioFrontEnd: @unchecked Sendable {
    // @unchecked: both payloads are immutable, shareable model objects (weights on the device, tables).
    case logMel(LogMelFrontEnd)
    case hubert(HuBERTWeights, Operators)

    var dimension: Int {
        switch self {
        case .logMel(let f): f.config.melBands
        case .hubert(let w, _): w.config.hiddenSize
        }
    }

    /// How far past a row's own audio the front-end waits before the row is final.
    var lookaheadMs: Int {
        switch self {
        case .logMel: 5   // a row's 400-sample frame reaches 80 samples into the next row
        case .hubert: 1000 * HuBERTFeatureStage.Window.standard.lookahead / 50
        }
    }

    /// A session's stage: streaming, or with `utterance` (full-window sessions) HuBERT in upstream's
    /// utterance mode. Log-mel rows do not depend on context, so its one stage serves both.
    func makeStage(utterance: Bool = false) throws -> any AudioFeatureStage {
        switch self {
        case .logMel(let f): LogMelFeatureStage(frontEnd: f)
        case .hubert(let w, let ops) where utterance: HuBERTUtteranceStage(encoder: HuBERTEncoder(weights: w, ops: ops))
        case .hubert(let w, let ops): try HuBERTFeatureStage(encoder: HuBERTEncoder(weights: w, ops: ops))
        }
    }

    /// Zero rows a full-window sample pads to (HuBERT: upstream's `get_hubert` multiple of 8; log-mel is the
    /// project's own front-end and has no upstream padding).
    var fullWindowPadRowsMultiple: Int {
        switch self {
        case .logMel: 1
        case .hubert(let w, _): w.config.padRowsMultiple
        }
    }

    /// Exactly `rows` feature rows of an utterance (a style clip's audio), zero-padded at the end if short.
    func utteranceRows(_ samples: [Float], rows: Int) throws -> [Float] {
        let d = dimension
        var values: [Float]
        switch self {
        case .logMel(let f):
            let needed = (rows - 1) * f.config.hopLength + f.config.windowLength
            let audio = samples.count < needed ? samples + [Float](repeating: 0, count: needed - samples.count) : samples
            values = f.features(Array(audio.prefix(needed)))
        case .hubert(let w, let ops):
            values = try HuBERTEncoder(weights: w, ops: ops).utteranceFeatures(samples, padded: true).values
        }
        if values.count < rows * d { values += [Float](repeating: 0, count: rows * d - values.count) }
        return Array(values.prefix(rows * d))
    }

    /// One feature row of digital silence (the idle context and the daemon's underrun fill).
    func silenceRow() throws -> [Float] {
        switch self {
        case .logMel(let f):
            return f.features([Float](repeating: 0, count: f.config.windowLength))
        case .hubert:
            // HuBERT is contextual: take a row from the middle of one second of silence.
            let rows = try utteranceRows([Float](repeating: 0, count: 16000), rows: 48)
            return Array(rows[(24 * dimension)..<(25 * dimension)])
        }
    }
}
