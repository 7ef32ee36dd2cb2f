import AvatarProtocol
import Foundation
import Logging
import Synchronization

/// A running session: its render thread, its input queue and the stream of events it reports.
public final class Session: Sendable {
    public let plan: SessionPlan
    public let inbox: SessionInbox
    public let events: AsyncStream<SessionEvent>
    private let cost: Mutex<InboundAudioCost>
    private let stopSignal = StopSignal()

    /// Starts the session's render thread. `onMotion` observes rendered motion (tools and tests).
    public init(plan: SessionPlan, makeOutput: @escaping SessionOutputFactory, logger: Logger,
                onMotion: (@Sendable (MotionFrameRecord) -> Void)? = nil) {
        self.plan = plan
        let inbox = SessionInbox(maxBufferedSeconds: plan.maxBufferSeconds)
        self.inbox = inbox
        self.cost = Mutex(InboundAudioCost(maxGapSeconds: plan.maxBufferSeconds))
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream(bufferingPolicy: .unbounded)
        self.events = stream
        var logger = logger
        logger[metadataKey: "session.id"] = "\(plan.sessionID)"
        logger[metadataKey: "session.avatar"] = "\(plan.avatar.name)"
        let stopSignal = self.stopSignal
        let thread = Thread { [logger] in
            let runner = SessionRunner(plan: plan, inbox: inbox, makeOutput: makeOutput, logger: logger) { event in
                continuation.yield(event)
                if case .finished = event { continuation.finish() }
            }
            if let onMotion {
                runner.onMotion = { onMotion(MotionFrameRecord(index: $0.index, coefficients: $0.coefficients)) }
            }
            runner.run()
            // Only now is the session's work over: its slot may be reused.
            let observers = stopSignal.state.withLock { s -> [@Sendable () -> Void] in
                s.stopped = true
                let all = s.observers
                s.observers.removeAll()
                return all
            }
            for observe in observers { observe() }
        }
        thread.name = "avatard-session-\(plan.sessionID.prefix(8))"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Whether the render thread has returned (outputs finalized, stages released).
    public var isStopped: Bool { stopSignal.state.withLock { $0.stopped } }

    /// Calls `observer` once the render thread has returned (at once if it already has), on that thread.
    public func whenStopped(_ observer: @escaping @Sendable () -> Void) {
        let already = stopSignal.state.withLock { s -> Bool in
            if s.stopped { return true }
            s.observers.append(observer)
            return false
        }
        if already { observer() }
    }

    /// Queues one client audio packet. It counts against `max_buffer_seconds` with the silence its ts gap
    /// asks for, not only its own duration.
    public func audio(seq: UInt32, ts: UInt64, payload: [UInt8]) {
        let samples = cost.withLock { $0.cost(ts: ts, duration48k: OpusTOC.samples48k(payload)) }
        inbox.push(.audio(seq: seq, ts: ts, payload: payload, samples48k: samples, arrival: ContinuousClock.now),
                   samples48k: samples)
    }

    public func send(_ input: SessionInput) {
        if case .interrupt = input { cost.withLock { $0.reset() } }
        inbox.push(input)
    }

    /// Suspends while more than `max_buffer_seconds` of audio wait for rendering (TCP backpressure).
    public func waitForSpace() async { await inbox.waitForSpace() }
}

/// A rendered motion frame, as observed from outside the render thread.
public struct MotionFrameRecord: Sendable, Equatable {
    public var index: Int
    public var coefficients: [Float]
}

/// Whether a session's render thread has returned, and who waits for it.
private final class StopSignal: Sendable {
    let state = Mutex<(stopped: Bool, observers: [@Sendable () -> Void])>((false, []))
}
