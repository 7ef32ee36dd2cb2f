/// A device tensor: shape (row-major, last dimension fastest), element type, and the buffer range that
/// holds it. Tensors are values; the memory belongs to an arena, a weight store or a network plan.
public struct Tensor: Sendable {
    public enum ElementType: String, Sendable, CaseIterable {
        case float32, float16

        public var byteSize: Int { self == .float32 ? 4 : 2 }
    }

    public let shape: [Int]
    public let elementType: ElementType
    public let storage: BufferSlice

    public init(shape: [Int], elementType: ElementType = .float32, storage: BufferSlice) throws(VulkanError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .usage("tensor shape \(shape) has a negative dimension") }
        let bytes = shape.reduce(1, *) * elementType.byteSize
        guard storage.byteCount >= bytes else {
            throw .usage("tensor \(shape) \(elementType) needs \(bytes) bytes, its storage holds \(storage.byteCount)")
        }
        self.shape = shape
        self.elementType = elementType
        self.storage = storage
    }

    /// Allocates a tensor from an arena.
    public init(shape: [Int], elementType: ElementType = .float32, in arena: BufferArena) throws(VulkanError) {
        let slice = try arena.allocate(bytes: shape.reduce(1, *) * elementType.byteSize)
        try self.init(shape: shape, elementType: elementType, storage: slice)
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var byteCount: Int { count * elementType.byteSize }

    /// The size of dimension `i` (negative counts from the end).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// The same memory seen with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) throws(VulkanError) -> Tensor {
        guard newShape.reduce(1, *) == count else { throw .usage("cannot reshape \(shape) to \(newShape)") }
        return try Tensor(shape: newShape, elementType: elementType, storage: storage)
    }

    /// Writes values given as Float (converted to fp16 for fp16 tensors).
    public func write(_ values: [Float]) throws(VulkanError) {
        guard values.count == count else { throw .usage("writing \(values.count) values into a tensor of \(count)") }
        switch elementType {
        case .float32: try storage.write(values)
        case .float16:
            let halves = values.map { Float16($0).bitPattern }
            try halves.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in Result { () throws(VulkanError) in try storage.write(bytes: raw) } }.get()
        }
    }

    /// Reads all values as Float.
    public func read() throws(VulkanError) -> [Float] {
        switch elementType {
        case .float32: return try storage.read(count: count)
        case .float16:
            var halves = [UInt16](repeating: 0, count: count)
            try halves.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in Result { () throws(VulkanError) in try storage.read(into: raw) } }.get()
            return halves.map { Float(Float16(bitPattern: $0)) }
        }
    }
}
