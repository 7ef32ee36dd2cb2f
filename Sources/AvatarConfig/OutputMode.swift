/// How an output is paced (protocol v1, "Timeline and output").
public enum OutputMode: String, Sendable, Equatable {
    /// Network sinks: paced to the wall clock, idle frames when no audio is buffered.
    case live
    /// Files: follow the audio timeline as fast as rendering allows, no frames beyond the audio sent.
    case offline
}
