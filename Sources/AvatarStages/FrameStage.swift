public import AvatarMedia

/// Renderer of a session: one motion frame in, one video frame (I420) out.
public protocol FrameStage: AnyObject {
    var width: Int { get }
    var height: Int { get }
    func render(_ motion: MotionFrame) throws -> I420Frame
}
