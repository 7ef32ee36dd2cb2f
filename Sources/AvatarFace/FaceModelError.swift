/// Why a face model or renderer could not be loaded or run. Messages name the tensor and what was expected.
public struct FaceModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "face model: \(message)" }
}
