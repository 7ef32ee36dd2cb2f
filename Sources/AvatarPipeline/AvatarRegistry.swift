import AvatarStages

/// The avatars a daemon serves, by name. Immutable after start.
public struct AvatarRegistry: Sendable {
    public let avatars: [String: any Avatar]

    public init(_ avatars: [any Avatar]) {
        var byName: [String: any Avatar] = [:]
        for a in avatars where byName[a.name] == nil { byName[a.name] = a }
        self.avatars = byName
    }

    public subscript(name: String) -> (any Avatar)? { avatars[name] }

    public var names: [String] { avatars.keys.sorted() }
}
