/// Audio front-end of a session: 16 kHz mono samples in, feature rows out, incrementally.
/// Implementations keep whatever left context they need; the session never re-sends audio.
public protocol AudioFeatureStage: AnyObject {
    /// Feature rows per second (50 for HuBERT and the 20 ms-hop log-mel front-end).
    var rowsPerSecond: Int { get }
    var dimension: Int { get }
    /// Appends samples; returns the rows that are final now (bounded look-ahead).
    func append(_ samples: [Float]) throws -> FeatureRows
    /// End of utterance: pads as needed and returns the remaining rows for all audio appended so far.
    func flush() throws -> FeatureRows
    /// Forgets all state (after `input.interrupt`).
    func reset()
}
