import AvatarPipeline
import Foundation
import Metrics
import Synchronization

/// Active sessions of the daemon: capacity (`max_sessions`), the drain on shutdown and readiness.
///
/// A slot is held from `reserve()` until the session's render thread has returned (not when its connection
/// ends): capacity counts running work, so a vanished client's session that is still rendering or
/// finalizing its file keeps its slot, and the drain waits for it.
public final class SessionRegistry: Sendable {
    fileprivate struct State {
        var sessions: [String: Session] = [:]
        /// Slots promised to connections that are creating their session.
        var reserved = 0
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var used: Int { sessions.count + reserved }
    }

    private let state = Mutex(State())
    public let maxSessions: Int
    private let activeGauge = Gauge(label: "avatard_sessions_active")

    public init(maxSessions: Int) {
        self.maxSessions = maxSessions
        activeGauge.record(0)
    }

    /// Slots in use: running sessions (render thread not yet returned) plus reservations.
    public var activeCount: Int { state.withLock { $0.used } }
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Takes a slot for a session about to be created; false when `max_sessions` is reached or the daemon
    /// is draining. Follow with `add` or `cancelReservation`.
    public func reserve() -> Bool {
        let count: Int? = state.withLock { s in
            guard !s.draining, s.used < maxSessions else { return nil }
            s.reserved += 1
            return s.used
        }
        if let count { activeGauge.record(count) }
        return count != nil
    }

    public func cancelReservation() {
        let (count, waiters) = state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            return (s.used, s.used == 0 ? s.takeWaiters() : [])
        }
        activeGauge.record(count)
        for w in waiters { w.resume() }
    }

    /// Turns a reservation into a running session; its slot is freed when its render thread returns.
    public func add(_ session: Session) {
        state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            s.sessions[session.plan.sessionID] = session
        }
        let id = session.plan.sessionID
        session.whenStopped { [weak self] in self?.remove(id) }
    }

    private func remove(_ id: String) {
        let (count, waiters) = state.withLock { s in
            s.sessions[id] = nil
            return (s.used, s.used == 0 ? s.takeWaiters() : [])
        }
        activeGauge.record(count)
        for w in waiters { w.resume() }
    }

    /// SIGTERM: refuses new sessions, asks every session to finalize its output and close with
    /// `going_away`, and returns when every render thread has returned or `timeout` has passed
    /// (false then: some session did not finish in time).
    public func drain(timeout: Duration) async -> Bool {
        let sessions: [Session] = state.withLock { s in
            s.draining = true
            return Array(s.sessions.values)
        }
        for session in sessions { session.send(.abort(goingAway: true)) }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let empty: Bool = self.state.withLock { s in
                        if s.used == 0 { return true }
                        s.drainWaiters.append(c)
                        return false
                    }
                    if empty { c.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first {
                // Release the waiter so the group can finish; the process is about to exit anyway.
                let waiters = state.withLock { $0.takeWaiters() }
                for w in waiters { w.resume() }
            }
            group.cancelAll()
            return first
        }
    }
}

extension SessionRegistry.State {
    fileprivate mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
        let w = drainWaiters
        drainWaiters.removeAll()
        return w
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
