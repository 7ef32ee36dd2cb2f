/// Why a bundle was rejected. Messages name the file, the tensor and what was expected vs found.
public struct BundleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let bundle: String
    public let message: String

    public init(bundle: String, _ message: String) {
        self.bundle = bundle
        self.message = message
    }

    public var description: String { "bundle \(bundle): \(message)" }
}
