/// What the network side hands to a session's render thread.
public enum SessionInput: Sendable {
    /// `samples48k`: the timeline the packet adds (its duration plus its ts gap), for buffer accounting.
    case audio(seq: UInt32, ts: UInt64, payload: [UInt8], samples48k: Int, arrival: ContinuousClock.Instant)
    case end
    case interrupt
    /// `session.close`: drain, finalize, report `session.ended`.
    case close
    /// The client vanished or the daemon is shutting down: finalize the output, report nothing more
    /// (`goingAway` = true asks for the 1001 close after finalizing).
    case abort(goingAway: Bool)
}
