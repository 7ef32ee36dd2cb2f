/// Why a session's render thread gave up. The pipeline's own error: the server maps `kind` to a protocol
/// close code at its boundary (`output` → 4004 `output_failed`, `unsupported` → 4001, `internal` → 1011).
public struct SessionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The output pipeline could not start, failed (a sink error, disk full, file-size limit) or
        /// could not finalize.
        case output
        /// The session asks for something the avatar cannot do (e.g. video from a motion-only avatar).
        case unsupported
        /// A fault inside the session (the model produced NaN, a stage stopped producing frames).
        case `internal`
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
