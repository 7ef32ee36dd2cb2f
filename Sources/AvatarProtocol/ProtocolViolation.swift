/// A reason to end a session with an `error` message and a close code.
public struct ProtocolViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: CloseCode
    public let message: String

    /// Messages quote client input: they are escaped and cut (the `error` message and the logs stay small).
    public init(_ code: CloseCode, _ message: String) {
        self.code = code
        self.message = LogText.escaped(message, limit: Self.maxMessageLength)
    }

    public static let maxMessageLength = 512

    public static func protocolError(_ message: String) -> Self { .init(.protocol, message) }
    public static func tooBig(_ message: String) -> Self { .init(.tooBig, message) }
    public static func unsupported(_ message: String) -> Self { .init(.unsupported, message) }

    public var description: String { "\(code.name) (\(code.rawValue)): \(message)" }
}
