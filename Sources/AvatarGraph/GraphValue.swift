public import AvatarVulkan

/// A symbolic tensor of a `Graph`: its shape and element type are known when the graph is built; its memory
/// is decided by the planner. Builder calls take values and return new ones.
public struct GraphValue: Hashable, Sendable, CustomStringConvertible {
    let id: Int
    let graph: ObjectIdentifier
    public let shape: [Int]
    public let elementType: GraphElementType

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    /// The size of dimension `i` (negative counts from the end).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
    public var byteCount: Int { count * elementType.byteSize }
    public var description: String { "%\(id)\(shape)\(elementType == .float32 ? "" : ":" + elementType.rawValue)" }
}

/// Element types of graph values: fp32 activations, fp16 weights, uint32 indices (triangles, face ids, packed bytes).
public enum GraphElementType: String, Sendable {
    case float32, float16, uint32

    public var byteSize: Int { self == .float16 ? 2 : 4 }

    init(_ type: Tensor.ElementType) { self = type == .float16 ? .float16 : .float32 }

    /// The operators' element type of a float value.
    func tensorType(_ label: String) throws -> Tensor.ElementType {
        switch self {
        case .float32: return .float32
        case .float16: return .float16
        case .uint32: throw GraphError("\(label): a uint32 value is not a float operand")
        }
    }
}
