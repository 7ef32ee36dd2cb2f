/// Why a motion component (audio front-end or motion model) could not be built or run.
/// Messages name the tensor or setting and what was expected vs found.
public struct MotionModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public let component: String
    public let message: String

    public init(_ component: String, _ message: String) {
        self.component = component
        self.message = message
    }

    public var description: String { "\(component): \(message)" }
}
