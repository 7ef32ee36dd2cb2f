public import AvatarFormats

/// Renderer of a session: one motion frame in, one video frame (I420) out.
///
/// Frames can be in flight: `submit` starts frame N and returns at once, `complete` waits for it and reads it
/// back, so a session records and submits frame N+1 while frame N is read back and encoded. Frames complete in
/// submission order; at most `framesInFlight` may be submitted and not completed.
public protocol FrameStage: AnyObject {
    var width: Int { get }
    var height: Int { get }
    /// How many frames may be submitted before the oldest is completed (1 = synchronous).
    var framesInFlight: Int { get }
    func submit(_ motion: MotionFrame) throws
    func complete() throws -> I420Frame
}

extension FrameStage {
    public var framesInFlight: Int { 1 }

    /// Renders one frame synchronously.
    public func render(_ motion: MotionFrame) throws -> I420Frame {
        try submit(motion)
        return try complete()
    }
}
