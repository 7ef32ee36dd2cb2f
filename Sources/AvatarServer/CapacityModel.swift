/// What the device can render, from each avatar's measured frame cost (`AvatarCostProbe`): a session of
/// avatar A needs `cost(A) × fps(A)` seconds of device time per second (its *load*), and sessions are
/// admitted while the loads add up to at most `budget` = replicas × (1 − headroom). Offline sessions are
/// counted at the same load (they render as fast as they can; counting them at real time keeps live
/// sessions on time). Without measurements only `max_sessions` applies.
public struct CapacityModel: Sendable, Equatable {
    /// Device-seconds per second of video, per avatar name.
    public var loadPerSession: [String: Double]
    /// Total load the running sessions may add up to; nil: no measured admission.
    public var budget: Double?

    public init(loadPerSession: [String: Double] = [:], budget: Double? = nil) {
        self.loadPerSession = loadPerSession
        self.budget = budget
    }

    /// From measured frame costs: `replicas` devices (queues) working in parallel, `headroom` of them kept free.
    public init(frameCosts: [String: (cost: Duration, fps: Int)], replicas: Int, headroom: Double) {
        loadPerSession = frameCosts.mapValues { Self.seconds($0.cost) * Double($0.fps) }
        budget = headroom >= 1 ? nil : Double(max(1, replicas)) * (1 - max(0, headroom))
    }

    /// Further sessions of an avatar with this load that fit next to `used` sessions with total `load`.
    func available(cost: Double, used: Int, load: Double, maxSessions: Int) -> Int {
        let bySlots = max(0, maxSessions - used)
        guard let budget, cost > 0 else { return bySlots }
        if used == 0 { return max(min(bySlots, 1), min(bySlots, Int(budget / cost + 1e-9))) }
        return min(bySlots, max(0, Int((budget - load) / cost + 1e-9)))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
