import AvatarPipeline
import Foundation
import Metrics
import Synchronization

/// Active sessions of the daemon: capacity (`max_sessions`), the drain on shutdown and readiness.
public final class SessionRegistry: Sendable {
    private struct State {
        var sessions: [String: Session] = [:]
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    public let maxSessions: Int
    private let activeGauge = Gauge(label: "avatard_sessions_active")

    public init(maxSessions: Int) {
        self.maxSessions = maxSessions
        activeGauge.record(0)
    }

    public var activeCount: Int { state.withLock { $0.sessions.count } }
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Reserves a slot; false when `max_sessions` is reached or the daemon is draining.
    public func add(_ session: Session) -> Bool {
        let count: Int? = state.withLock { s in
            guard !s.draining, s.sessions.count < maxSessions else { return nil }
            s.sessions[session.plan.sessionID] = session
            return s.sessions.count
        }
        if let count { activeGauge.record(count) }
        return count != nil
    }

    public func remove(_ id: String) {
        let (count, waiters): (Int, [CheckedContinuation<Void, Never>]) = state.withLock { s in
            s.sessions[id] = nil
            if s.sessions.isEmpty {
                let w = s.drainWaiters
                s.drainWaiters.removeAll()
                return (0, w)
            }
            return (s.sessions.count, [])
        }
        activeGauge.record(count)
        for w in waiters { w.resume() }
    }

    /// SIGTERM: refuses new sessions, asks every session to finalize its output and close with
    /// `going_away`, and returns when all are gone.
    public func drain() async {
        let sessions: [Session] = state.withLock { s in
            s.draining = true
            return Array(s.sessions.values)
        }
        for session in sessions { session.send(.abort(goingAway: true)) }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done: Bool = state.withLock { s in
                if s.sessions.isEmpty { return true }
                s.drainWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}

extension SessionRegistry {
    /// Sessions whose render thread has not gone round its loop for `threshold` (a hung render).
    public func stalledSessions(threshold: Duration) -> [String] {
        let sessions = state.withLock { Array($0.sessions.values) }
        let now = ContinuousClock.now
        return sessions.filter { now - $0.inbox.lastRenderProgress > threshold }.map(\.plan.sessionID)
    }
}
