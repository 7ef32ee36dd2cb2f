/// WebSocket close codes of protocol v1 with their names, which are also the `error.code` values.
public enum CloseCode: UInt16, Sendable, CaseIterable, Codable {
    case normal = 1000
    case goingAway = 1001
    case policy = 1008
    case tooBig = 1009
    case `internal` = 1011
    case `protocol` = 4000
    case unsupported = 4001
    case capacity = 4002
    case idleTimeout = 4003
    case outputFailed = 4004
    case unknownAvatar = 4005
    case unknownOutput = 4006

    /// The name used in `error.code`.
    public var name: String {
        switch self {
        case .normal: "normal"
        case .goingAway: "going_away"
        case .policy: "policy"
        case .tooBig: "too_big"
        case .internal: "internal"
        case .protocol: "protocol"
        case .unsupported: "unsupported"
        case .capacity: "capacity"
        case .idleTimeout: "idle_timeout"
        case .outputFailed: "output_failed"
        case .unknownAvatar: "unknown_avatar"
        case .unknownOutput: "unknown_output"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Every close except 1000 and 1001 is preceded by an `error` message with the same name.
    public var needsErrorMessage: Bool { self != .normal && self != .goingAway }
}
