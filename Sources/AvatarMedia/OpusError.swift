/// A libopus failure, with libopus' own message.
public struct OpusError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public var description: String { "\(operation): \(OpusCodes.message(code)) (\(code))" }
}
