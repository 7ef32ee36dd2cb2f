/// One entry of a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]
    /// Byte range inside the data section.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}
