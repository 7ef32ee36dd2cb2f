import Foundation

/// Writes safetensors files (used by tools, tests and bench fixtures; the daemon only reads).
public struct SafeTensorsWriter: Sendable {
    private var entries: [(name: String, dtype: TensorDType, shape: [Int], data: Data)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        entries.append((name, .f32, shape, floats.withUnsafeBytes { Data($0) }))
    }

    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) {
        precondition(shape.reduce(1, *) == int32s.count, "shape \(shape) does not match \(int32s.count) values")
        entries.append((name, .i32, shape, int32s.withUnsafeBytes { Data($0) }))
    }

    public func data() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.data.count]]
            offset += e.data.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data section is 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for e in entries { out.append(e.data) }
        return out
    }

    public func write(to url: URL) throws {
        try data().write(to: url, options: .atomic)
    }
}
