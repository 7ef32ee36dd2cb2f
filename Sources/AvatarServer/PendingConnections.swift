import Logging
import Metrics
import Synchronization

/// Public connections that have not finished their HTTP request yet (slowloris): counted so that at most
/// `limit` exist at once; the rest are closed as soon as they are accepted. Each refusal and header
/// timeout is counted in `avatard_connections_refused_total` and logged at most once per second.
public final class PendingConnections: Sendable {
    public let limit: Int
    private let count = Atomic<Int>(0)
    private let logger: Logger
    private let limiter = LogRateLimiter(interval: .seconds(1))
    private static let overLimit = Counter(label: "avatard_connections_refused_total", dimensions: [("reason", "pending_limit")])
    private static let headerTimeouts = Counter(label: "avatard_connections_refused_total", dimensions: [("reason", "header_timeout")])

    public init(limit: Int, logger: Logger) {
        self.limit = max(1, limit)
        self.logger = logger
    }

    public var current: Int { count.load(ordering: .relaxed) }

    /// Takes a place; false when `limit` connections are already waiting for their request.
    func enter() -> Bool {
        while true {
            let now = count.load(ordering: .relaxed)
            if now >= limit { return false }
            if count.compareExchange(expected: now, desired: now + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    func leave() { count.subtract(1, ordering: .relaxed) }

    func refused() {
        Self.overLimit.increment()
        if let suppressed = limiter.allow() {
            logger.warning("connection refused: too many connections without a complete request",
                           metadata: ["limit": "\(limit)", "suppressed": "\(suppressed)"])
        }
    }

    func timedOut() {
        Self.headerTimeouts.increment()
        if let suppressed = limiter.allow() {
            logger.notice("connection closed: no complete request within the header timeout",
                          metadata: ["suppressed": "\(suppressed)"])
        }
    }
}
