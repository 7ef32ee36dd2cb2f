import Synchronization

/// Whether the daemon can serve, with the reasons when it cannot. The same conditions gate systemd's
/// READY=1 at start; `/readyz` reports them continuously.
public final class Readiness: Sendable {
    private let reasons = Mutex<[String: String]>(["listeners": "listeners are not bound yet"])

    public init() {}

    /// Sets (or clears, with nil) the reason a component is not ready.
    public func set(_ component: String, notReady reason: String?) {
        reasons.withLock { $0[component] = reason }
    }

    public func current(registry: SessionRegistry?) -> [String] {
        var out = reasons.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } }
        if let registry {
            if registry.isDraining { out.append("sessions: draining for shutdown") }
            else if registry.isFull {
                out.append("sessions: at capacity (\(registry.activeCount)/\(registry.maxSessions) sessions, device load \(Int((registry.load * 100).rounded())) %)")
            }
        }
        return out
    }
}
