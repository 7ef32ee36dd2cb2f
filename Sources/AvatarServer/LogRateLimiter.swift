import Synchronization

/// Lets one log line through per `interval` and counts the ones it holds back, so a flood of identical
/// events (hostile clients) costs a line per interval, with the number suppressed in between.
public final class LogRateLimiter: Sendable {
    private struct State {
        var last: ContinuousClock.Instant?
        var suppressed = 0
    }
    private let state = Mutex(State())
    public let interval: Duration

    public init(interval: Duration) { self.interval = interval }

    /// nil: hold this line back. Otherwise log it, with the returned number of lines suppressed since the last.
    public func allow(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { s in
            if let last = s.last, now - last < interval {
                s.suppressed += 1
                return nil
            }
            s.last = now
            defer { s.suppressed = 0 }
            return s.suppressed
        }
    }
}
