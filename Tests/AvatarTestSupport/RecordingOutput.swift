public import AvatarFormats
import AvatarMedia
import AvatarPipeline
import Synchronization

/// Test double: a session output that records what it is given (frames' bar heights, audio packets).
public final class RecordingOutput: SessionOutput, @unchecked Sendable {
    public struct Video: Sendable { public var pts: UInt64; public var barHeight: Int }
    public struct Audio: Sendable { public var pts: UInt64; public var duration: UInt64; public var bytes: Int }

    private let state = Mutex<(video: [Video], audio: [Audio], finished: Bool, finishedAt: ContinuousClock.Instant?)>(([], [], false, nil))
    public var failure: String?

    public init() {}

    public var video: [Video] { state.withLock { $0.video } }
    public var audio: [Audio] { state.withLock { $0.audio } }
    public var finished: Bool { state.withLock { $0.finished } }
    /// When `finish()` was called (on the session's thread).
    public var finishedAt: ContinuousClock.Instant? { state.withLock { $0.finishedAt } }

    public func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws {
        // Height of the white bar in the middle column.
        let x = frame.width / 2
        var bar = 0
        for y in 0..<frame.height where frame.luma(x: x, y: y) > 200 { bar += 1 }
        state.withLock { $0.video.append(Video(pts: pts, barHeight: bar)) }
    }

    public func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws {
        state.withLock { $0.audio.append(Audio(pts: pts, duration: duration, bytes: packet.count)) }
    }

    public func finish() throws {
        state.withLock {
            $0.finished = true
            $0.finishedAt = .now
        }
    }
}
