/// `[avatars.variants.NAME]`: a loaded avatar served under another name with its own session pose. Protocol v1's
/// `session.start` has no pose field, so a client chooses the pose by the avatar name it starts with.
public struct AvatarVariant: Sendable, Equatable {
    public enum Pose: String, Sendable, Equatable {
        /// The avatar's reference pose, or `staticPose`, on every frame.
        case `static`
        /// The avatar's pose track played ping-pong (the avatar must have one).
        case track
    }

    /// The name clients start sessions with.
    public var name: String
    /// The loaded avatar (bundle name) it serves.
    public var avatar: String
    public var pose: Pose
    /// With `pose = "static"`: euler (radians about x, y, z) then trans (face-model units); nil: the reference pose.
    public var staticPose: [Double]?
    /// The config file it came from, for messages.
    public var file: String

    public init(name: String, avatar: String, pose: Pose, staticPose: [Double]? = nil, file: String = "") {
        self.name = name
        self.avatar = avatar
        self.pose = pose
        self.staticPose = staticPose
        self.file = file
    }

    /// "FILE: avatars.variants.NAME.KEY", for messages about a value found wanting once the avatars are loaded.
    public func location(_ key: String) -> String {
        (file.isEmpty ? "" : "\(file): ") + "avatars.variants.\(name).\(key)"
    }

    static func parse(_ t: inout TableReader, name: String) throws(ConfigError) -> AvatarVariant {
        guard !name.isEmpty, !name.contains(where: \.isWhitespace) else {
            throw ConfigError(file: t.file, line: t.table.line, key: t.path, message: "an avatar name must be non-empty, without spaces")
        }
        guard let avatar = try t.string("avatar"), !avatar.isEmpty else {
            throw t.error("avatar", "required: the name of the loaded avatar this variant serves")
        }
        guard let pose = try t.oneOf("pose", ["static", "track"]).flatMap(Pose.init(rawValue:)) else {
            throw t.error("pose", "required: 'static' or 'track'")
        }
        let staticPose = try t.numbers("static_pose", count: 6)
        if let p = staticPose, let bad = p.first(where: { abs($0) > 1000 }) {
            throw t.error("static_pose", "\(bad) is out of range -1000...1000 (euler in radians, trans in face-model units)")
        }
        if staticPose != nil, pose != .static {
            throw t.error("static_pose", "goes with pose = \"static\" (this variant has pose = \"\(pose.rawValue)\")")
        }
        try t.rejectUnknownKeys()
        return AvatarVariant(name: name, avatar: avatar, pose: pose, staticPose: staticPose, file: t.file)
    }
}
