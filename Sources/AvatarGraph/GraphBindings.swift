public import AvatarVulkan

/// What a node sees while it records: the memory the planner gave each value.
public struct GraphBindings {
    let slices: [BufferSlice]
    let tensors: [Int: Tensor]

    /// The bytes holding `value`.
    public subscript(_ value: GraphValue) -> BufferSlice { slices[value.id] }

    /// A constant as the weight store holds it (element type included), or the value as an fp32 tensor.
    public func tensor(_ value: GraphValue) throws -> Tensor {
        if let t = tensors[value.id] { return t }
        return try Tensor(shape: value.shape, elementType: value.elementType == .float16 ? .float16 : .float32, storage: slices[value.id])
    }
}
