import AvatarPipeline
import Foundation
import Metrics
import Synchronization

/// Active sessions of the daemon: capacity (`max_sessions`, and the device time the sessions' avatars were
/// measured to need, see `CapacityModel`), the drain on shutdown and readiness.
///
/// A slot is held from `reserve()` until the session's render thread has returned (not when its connection
/// ends): capacity counts running work, so a vanished client's session that is still rendering or
/// finalizing its file keeps its slot, and the drain waits for it.
public final class SessionRegistry: Sendable {
    fileprivate struct State {
        var sessions: [String: Session] = [:]
        /// Device load (device-seconds per second) of each running session.
        var loads: [String: Double] = [:]
        /// Slots promised to connections that are creating their session, and their load.
        var reserved = 0
        var reservedLoad = 0.0
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var used: Int { sessions.count + reserved }
        var load: Double { loads.values.reduce(reservedLoad, +) }
    }

    /// A slot taken by `reserve`, with the device load it stands for.
    public struct Reservation: Sendable {
        public let load: Double
    }

    private let state = Mutex(State())
    public let maxSessions: Int
    public let capacity: CapacityModel
    private let activeGauge = Gauge(label: "avatard_sessions_active")
    private let availableGauges: [String: Gauge]

    public init(maxSessions: Int, capacity: CapacityModel = CapacityModel()) {
        self.maxSessions = maxSessions
        self.capacity = capacity
        availableGauges = Dictionary(uniqueKeysWithValues: capacity.loadPerSession.keys.map {
            ($0, Gauge(label: "avatard_capacity_sessions_available", dimensions: [("avatar", $0)]))
        })
        activeGauge.record(0)
        recordAvailability()
    }

    /// Device load of the running sessions (device-seconds per second of wall time).
    public var load: Double { state.withLock { $0.load } }

    /// Further sessions of each measured avatar that would be admitted now.
    public var available: [String: Int] {
        let (used, load, draining) = state.withLock { ($0.used, $0.load, $0.draining) }
        return capacity.loadPerSession.mapValues { draining ? 0 : capacity.available(cost: $0, used: used, load: load, maxSessions: maxSessions) }
    }

    /// No further session of any avatar fits (or the daemon is draining).
    public var isFull: Bool {
        let (used, load, draining) = state.withLock { ($0.used, $0.load, $0.draining) }
        if draining || used >= maxSessions { return true }
        let costs = capacity.loadPerSession.values
        return !costs.isEmpty && costs.allSatisfy { capacity.available(cost: $0, used: used, load: load, maxSessions: maxSessions) == 0 }
    }

    private func recordAvailability() {
        for (avatar, n) in available { availableGauges[avatar]?.record(n) }
    }

    /// Slots in use: running sessions (render thread not yet returned) plus reservations.
    public var activeCount: Int { state.withLock { $0.used } }
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Connections forwarding a session's events that have not yet written their close frame. A session's
    /// slot is freed when its render thread returns, a moment before its connection has sent the
    /// `going_away` close: the shutdown waits for these too, or the listener's shutdown would close them first.
    private let forwarders = Atomic<Int>(0)
    func forwarderStarted() { forwarders.add(1, ordering: .relaxed) }
    func forwarderFinished() { forwarders.subtract(1, ordering: .relaxed) }

    /// Waits (at most `timeout`) until every session's connection has written its close frame.
    public func waitForClosedConnections(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while forwarders.load(ordering: .relaxed) > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Why a reservation was refused (the session gets 4002 `capacity`).
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case draining
        case maxSessions(Int)
        case deviceBusy(load: Double, budget: Double, cost: Double)

        public var description: String {
            switch self {
            case .draining: "daemon is shutting down"
            case .maxSessions(let n): "max_sessions (\(n)) reached"
            case let .deviceBusy(load, budget, cost):
                "the device is at capacity: running sessions need \(Self.percent(load)) of it, this avatar \(Self.percent(cost)), the budget is \(Self.percent(budget))"
            }
        }

        private static func percent(_ x: Double) -> String { "\(Int((x * 100).rounded())) %" }
    }

    /// Takes a slot for a session of `avatar` about to be created. Follow with `add` or `cancel`.
    public func reserve(avatar: String) throws(Refusal) -> Reservation {
        let cost = capacity.loadPerSession[avatar] ?? 0
        let result: Result<Int, Refusal> = state.withLock { s in
            if s.draining { return .failure(.draining) }
            guard s.used < maxSessions else { return .failure(.maxSessions(maxSessions)) }
            if let budget = capacity.budget, cost > 0, s.load + cost > budget + 1e-9, s.used > 0 {
                // (An idle device always takes one session, however expensive.)
                return .failure(.deviceBusy(load: s.load, budget: budget, cost: cost))
            }
            s.reserved += 1
            s.reservedLoad += cost
            return .success(s.used)
        }
        let count = try result.get()
        activeGauge.record(count)
        recordAvailability()
        return Reservation(load: cost)
    }

    public func cancel(_ reservation: Reservation) {
        let (count, waiters) = state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            s.reservedLoad = max(0, s.reservedLoad - reservation.load)
            return (s.used, s.used == 0 ? s.takeWaiters() : [])
        }
        activeGauge.record(count)
        recordAvailability()
        for w in waiters { w.resume() }
    }

    /// Turns a reservation into a running session; its slot is freed when its render thread returns.
    public func add(_ session: Session, _ reservation: Reservation) {
        state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            s.reservedLoad = max(0, s.reservedLoad - reservation.load)
            s.sessions[session.plan.sessionID] = session
            s.loads[session.plan.sessionID] = reservation.load
        }
        let id = session.plan.sessionID
        session.whenStopped { [weak self] in self?.remove(id) }
    }

    private func remove(_ id: String) {
        let (count, waiters) = state.withLock { s in
            s.sessions[id] = nil
            s.loads[id] = nil
            return (s.used, s.used == 0 ? s.takeWaiters() : [])
        }
        activeGauge.record(count)
        recordAvailability()
        for w in waiters { w.resume() }
    }

    /// SIGTERM: refuses new sessions at once, then (after `grace`, so that audio a client sent before the
    /// signal and still in flight on its socket arrives and ends up in the file) asks every session to finalize
    /// its output and close with `going_away`, and returns when every render thread has returned or `timeout`
    /// has passed (false then: some session did not finish in time).
    public func drain(timeout: Duration, grace: Duration = .milliseconds(500)) async -> Bool {
        let start = ContinuousClock.now
        state.withLock { $0.draining = true }
        recordAvailability()
        try? await Task.sleep(for: min(grace, timeout / 4))
        let sessions: [Session] = state.withLock { Array($0.sessions.values) }
        for session in sessions { session.send(.abort(goingAway: true)) }
        let remaining = max(.zero, timeout - (ContinuousClock.now - start))
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
                try? await Task.sleep(for: remaining)
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
