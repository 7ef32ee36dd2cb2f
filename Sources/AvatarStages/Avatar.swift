/// A loaded avatar: read-only weights shared by all its sessions, and a factory of per-session stages.
public protocol Avatar: Sendable {
    var name: String { get }
    var description: String { get }
    var width: Int { get }
    var height: Int { get }
    var fps: Int { get }
    var styles: [String] { get }
    var defaultStyle: String? { get }
    /// Names of the motion dimensions.
    var motionNames: [String] { get }
    /// Whether the avatar renders video (false: motion only).
    var rendersVideo: Bool { get }
    /// Audio the stages must see beyond a frame before they can emit it (front-end and motion look-ahead,
    /// e.g. the sliding window's hop + look-ahead), in ms. Live outputs delay at least this much plus a
    /// compute margin, so real-time clients never cause underruns.
    var algorithmicLatencyMs: Int { get }
    func makeStages(options: SessionStageOptions) throws -> SessionStages
    /// Why this avatar's sessions cannot take `pose`, or nil when they can.
    func poseRefusal(_ pose: SessionPose) -> String?
}

extension Avatar {
    public var algorithmicLatencyMs: Int { 0 }

    public func poseRefusal(_ pose: SessionPose) -> String? {
        pose == .avatar ? nil : "avatar '\(name)' has no head pose"
    }
}
