/// A read-only view of one tensor's bytes inside a memory-mapped safetensors file.
public struct TensorView: @unchecked Sendable {
    // @unchecked: the bytes are immutable and kept alive by `owner`.
    public let info: TensorInfo
    public let bytes: UnsafeRawBufferPointer
    let owner: SafeTensorsFile

    public var shape: [Int] { info.shape }
    public var dtype: TensorDType { info.dtype }

    /// The elements as Float, converting from f16/bf16/integers when needed.
    public func floats() -> [Float] {
        let n = info.elementCount
        switch info.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                _ = UnsafeMutableRawBufferPointer(buf).copyMemory(from: bytes)
                count = n
            }
        case .f16:
            return (0..<n).map { i in Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            return (0..<n).map { i in
                Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .i64:
            return (0..<n).map { i in Float(bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .i32:
            return (0..<n).map { i in Float(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .u8:
            return bytes.map { Float($0) }
        }
    }

    /// The elements as Int, for index tensors (triangles, landmark indices).
    public func ints() -> [Int] {
        let n = info.elementCount
        switch info.dtype {
        case .i64: return (0..<n).map { Int(bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<n).map { Int(bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .u8: return bytes.map { Int($0) }
        default: return floats().map { Int($0) }
        }
    }
}
