import AvatarProtocol
import Foundation
import Logging

/// A running session: its render thread, its input queue and the stream of events it reports.
public final class Session: Sendable {
    public let plan: SessionPlan
    public let inbox: SessionInbox
    public let events: AsyncStream<SessionEvent>

    /// Starts the session's render thread. `onMotion` observes rendered motion (tools and tests).
    public init(plan: SessionPlan, makeOutput: @escaping SessionOutputFactory, logger: Logger,
                onMotion: (@Sendable (MotionFrameRecord) -> Void)? = nil) {
        self.plan = plan
        let inbox = SessionInbox(maxBufferedSeconds: plan.maxBufferSeconds)
        self.inbox = inbox
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream(bufferingPolicy: .unbounded)
        self.events = stream
        var logger = logger
        logger[metadataKey: "session.id"] = "\(plan.sessionID)"
        logger[metadataKey: "session.avatar"] = "\(plan.avatar.name)"
        let thread = Thread { [logger] in
            let runner = SessionRunner(plan: plan, inbox: inbox, makeOutput: makeOutput, logger: logger) { event in
                continuation.yield(event)
                if case .finished = event { continuation.finish() }
            }
            if let onMotion {
                runner.onMotion = { onMotion(MotionFrameRecord(index: $0.index, coefficients: $0.coefficients)) }
            }
            runner.run()
        }
        thread.name = "avatard-session-\(plan.sessionID.prefix(8))"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues one client audio packet; returns false if it is not a decodable-looking Opus packet size-wise.
    public func audio(seq: UInt32, ts: UInt64, payload: [UInt8]) {
        let samples = OpusTOC.samples48k(payload) ?? 0
        inbox.push(.audio(seq: seq, ts: ts, payload: payload, samples48k: samples, arrival: ContinuousClock.now),
                   samples48k: samples)
    }

    public func send(_ input: SessionInput) { inbox.push(input) }

    /// Suspends while more than `max_buffer_seconds` of audio wait for rendering (TCP backpressure).
    public func waitForSpace() async { await inbox.waitForSpace() }
}

/// A rendered motion frame, as observed from outside the render thread.
public struct MotionFrameRecord: Sendable, Equatable {
    public var index: Int
    public var coefficients: [Float]
}
