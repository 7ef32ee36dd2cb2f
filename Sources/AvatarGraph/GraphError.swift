/// A graph that cannot be built or planned: the node, and what was wrong with its shapes or values.
public struct GraphError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
