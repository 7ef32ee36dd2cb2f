import AvatarProtocol
import Foundation
import Logging
import Synchronization

/// Runs a whole utterance through the same session pipeline a WebSocket session uses, as fast as the
/// renderer allows (for `avatard render` and benchmarks): packets in, frames out, then finalize.
public enum OfflineRender {
    public struct Progress: Sendable {
        public var frames: Int
        public var totalFrames: Int
    }

    /// Feeds `packets` (20 ms Opus at 48 kHz, with durations) and closes; returns the session's end report.
    public static func run(plan: SessionPlan, packets: [(data: [UInt8], duration48k: Int)],
                           makeOutput: @escaping SessionOutputFactory, logger: Logger,
                           onMotion: (@Sendable (MotionFrameRecord) -> Void)? = nil,
                           progress: (@Sendable (Progress) -> Void)? = nil) async throws -> ServerMessage.Ended {
        let total = packets.reduce(0) { $0 + $1.duration48k }
        let totalFrames = Int((Double(total) / 48000 * Double(plan.avatar.fps)).rounded(.up))
        let counter = FrameCounter()
        let session = Session(plan: plan, makeOutput: makeOutput, logger: logger) { frame in
            onMotion?(frame)
            progress?(Progress(frames: counter.increment(), totalFrames: totalFrames))
        }
        let events = Task { () -> Result<ServerMessage.Ended, SessionFailure> in
            var ended: ServerMessage.Ended?
            var failure: SessionFailure?
            for await event in session.events {
                switch event {
                case .ended(let e): ended = e
                case .failed(let v): failure = v
                default: break
                }
            }
            if let ended { return .success(ended) }
            return .failure(failure ?? SessionFailure(.internal, "the session stopped without a report"))
        }
        var ts: UInt64 = 0
        for (i, packet) in packets.enumerated() {
            session.audio(seq: UInt32(truncatingIfNeeded: i), ts: ts, payload: packet.data)
            ts += UInt64(packet.duration48k)
            await session.waitForSpace()
        }
        session.send(.close)
        return try await events.value.get()
    }
}

/// Frames rendered so far (shared with the render thread's observer).
final class FrameCounter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}
