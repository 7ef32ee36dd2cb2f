/// Why the MimicTalk renderer could not be loaded or run: messages name the setting, tensor or input file and
/// what was expected vs found.
public struct RendererError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "mimictalk renderer: \(message)" }
}
