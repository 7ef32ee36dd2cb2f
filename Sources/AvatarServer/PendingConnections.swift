import Logging
import Metrics
import Synchronization

/// Public connections that have not finished their HTTP request yet (slowloris): at most `limit` exist at
/// once. A new connection beyond that makes room by closing the one that has waited longest, so that
/// connections held open by a slow sender cannot lock out a client that sends its request at once (it
/// completes long before `limit` newer connections arrive). Each such close and each header timeout is
/// counted in `avatard_connections_refused_total` and logged at most once per second.
public final class PendingConnections: Sendable {
    public let limit: Int
    private struct State {
        var next: UInt64 = 0
        /// Waiting connections by arrival (tickets increase), with what closes each.
        var waiting: [UInt64: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())
    private let logger: Logger
    private let limiter = LogRateLimiter(interval: .seconds(1))
    private static let overLimit = Counter(label: "avatard_connections_refused_total", dimensions: [("reason", "pending_limit")])
    private static let headerTimeouts = Counter(label: "avatard_connections_refused_total", dimensions: [("reason", "header_timeout")])

    public init(limit: Int, logger: Logger) {
        self.limit = max(1, limit)
        self.logger = logger
    }

    public var current: Int { state.withLock { $0.waiting.count } }

    /// Takes a place for a new connection (`close` closes it); when `limit` connections are already waiting,
    /// the oldest of them is closed. Returns the ticket for `leave`.
    func enter(close: @escaping @Sendable () -> Void) -> UInt64 {
        let (ticket, evicted) = state.withLock { s -> (UInt64, (@Sendable () -> Void)?) in
            s.next += 1
            var evicted: (@Sendable () -> Void)?
            if s.waiting.count >= limit, let oldest = s.waiting.keys.min() {
                evicted = s.waiting.removeValue(forKey: oldest)
            }
            s.waiting[s.next] = close
            return (s.next, evicted)
        }
        if let evicted {
            Self.overLimit.increment()
            if let suppressed = limiter.allow() {
                logger.warning("connection closed: too many connections without a complete request (the oldest is closed)",
                               metadata: ["limit": "\(limit)", "suppressed": "\(suppressed)"])
            }
            evicted()
        }
        return ticket
    }

    /// The connection's request is complete, or it closed (idempotent).
    func leave(_ ticket: UInt64) { state.withLock { _ = $0.waiting.removeValue(forKey: ticket) } }

    func timedOut() {
        Self.headerTimeouts.increment()
        if let suppressed = limiter.allow() {
            logger.notice("connection closed: no complete request within the header timeout",
                          metadata: ["suppressed": "\(suppressed)"])
        }
    }
}
