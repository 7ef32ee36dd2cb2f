public import AvatarProtocol

/// What a session's render thread reports to the network side.
public enum SessionEvent: Sendable, Equatable {
    case ready(ServerMessage.VideoInfo, latencyMs: Int)
    case stats(ServerMessage.Stats)
    case interrupted(lastRenderedTs: UInt64)
    case ended(ServerMessage.Ended)
    /// The session failed; the network side sends `error` and closes with the code it maps `kind` to.
    case failed(SessionFailure)
    /// The render thread has finished (after ended/failed or an abort). Always the last event.
    case finished(goingAway: Bool)
}
