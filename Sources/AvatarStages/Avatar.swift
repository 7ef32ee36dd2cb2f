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
    func makeStages(options: SessionStageOptions) throws -> SessionStages
}
