import AvatarConfig
import AvatarStages

/// A loaded avatar under another name whose sessions take the pose an `[avatars.variants.NAME]` entry chose
/// (docs/operations.md). It shares everything else with the avatar, including its weights and replicas.
public struct PoseVariantAvatar: Avatar {
    public let base: any Avatar
    public let name: String
    public let pose: SessionPose

    public init(base: any Avatar, name: String, pose: SessionPose) {
        self.base = base
        self.name = name
        self.pose = pose
    }

    public var description: String {
        let what = switch pose {
        case .avatar: "its own pose"
        case .reference: "its reference pose, still"
        case .track: "its pose track"
        case .fixed(let euler, let trans): "a still pose (euler \(euler), trans \(trans))"
        }
        return "\(base.name) with \(what)" + (base.description.isEmpty ? "" : ": \(base.description)")
    }
    public var width: Int { base.width }
    public var height: Int { base.height }
    public var fps: Int { base.fps }
    public var styles: [String] { base.styles }
    public var defaultStyle: String? { base.defaultStyle }
    public var motionNames: [String] { base.motionNames }
    public var rendersVideo: Bool { base.rendersVideo }
    public var algorithmicLatencyMs: Int { base.algorithmicLatencyMs }

    public func poseRefusal(_ pose: SessionPose) -> String? { base.poseRefusal(pose) }

    public func makeStages(options: SessionStageOptions) throws -> SessionStages {
        var options = options
        options.pose = pose
        return try base.makeStages(options: options)
    }

    /// The configured variants of `avatars`. A variant that cannot be served (its avatar is not loaded, its
    /// name is taken, the avatar cannot take its pose) is left out with a message naming its config key.
    public static func make(_ variants: [AvatarVariant], of avatars: [any Avatar]) -> (avatars: [any Avatar], problems: [String]) {
        var loaded: [String: any Avatar] = [:]
        for a in avatars where loaded[a.name] == nil { loaded[a.name] = a }
        var made: [any Avatar] = [], problems: [String] = []
        for v in variants {
            guard loaded[v.name] == nil else {
                problems.append("\(v.location("avatar")): the variant's name '\(v.name)' is a loaded avatar's")
                continue
            }
            guard let base = loaded[v.avatar] else {
                let names = avatars.map(\.name).sorted()
                problems.append("\(v.location("avatar")): no avatar named '\(v.avatar)' is loaded (loaded: "
                                + "\(names.isEmpty ? "none" : names.joined(separator: ", ")))")
                continue
            }
            let pose: SessionPose
            switch (v.pose, v.staticPose) {
            case (.track, _): pose = .track
            case (.static, nil): pose = .reference
            case (.static, let p?): pose = .fixed(euler: p[0..<3].map { Float($0) }, trans: p[3..<6].map { Float($0) })
            }
            if let refusal = base.poseRefusal(pose) {
                problems.append("\(v.location("pose")): \(refusal)")
                continue
            }
            made.append(PoseVariantAvatar(base: base, name: v.name, pose: pose))
        }
        return (made, problems)
    }
}
