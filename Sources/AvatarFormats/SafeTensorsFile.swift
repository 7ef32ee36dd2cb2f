#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A safetensors file, memory-mapped read-only. Tensor data is never copied at load;
/// `TensorView.bytes` points into the mapping, which lives as long as this object.
///
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
/// then the data section. Offsets are relative to the start of the data section.
public final class SafeTensorsFile: @unchecked Sendable {
    // @unchecked: the mapping is immutable after init and unmapped only in deinit.
    public let url: URL
    public let metadata: [String: String]
    public let tensors: [String: TensorInfo]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    public init(url: URL) throws(SafeTensorsError) {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size >= 8 else { throw .corruptHeader(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(mapped)
        var headerLength: UInt64 = 0
        withUnsafeMutableBytes(of: &headerLength) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 8)) }
        headerLength = UInt64(littleEndian: headerLength)
        do {
            guard headerLength <= UInt64(size - 8), headerLength <= 100_000_000 else {
                throw SafeTensorsError.corruptHeader(path: path, reason: "header length \(headerLength) exceeds file size \(size)")
            }
            let headerData = Data(bytes: base + 8, count: Int(headerLength))
            let (infos, meta) = try Self.parseHeader(headerData, path: path, dataLength: size - 8 - Int(headerLength))
            self.tensors = infos
            self.metadata = meta
        } catch let error as SafeTensorsError {
            munmap(mapped, size)
            throw error
        } catch {
            munmap(mapped, size)
            throw .corruptHeader(path: path, reason: "\(error)")
        }
        self.base = base
        self.mappedLength = size
        self.dataStart = 8 + Int(headerLength)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedLength)
    }

    /// Sorted tensor names.
    public var names: [String] { tensors.keys.sorted() }

    /// The tensor called `name`, or an error naming the file and tensor.
    public func tensor(_ name: String) throws(SafeTensorsError) -> TensorView {
        guard let info = tensors[name] else { throw .missingTensor(path: url.path, name: name) }
        return TensorView(info: info, bytes: UnsafeRawBufferPointer(start: base + dataStart + info.byteRange.lowerBound,
                                                                 count: info.byteRange.count), owner: self)
    }

    /// The tensor called `name`, checked against an expected shape (and dtype when given).
    public func tensor(_ name: String, shape: [Int], dtype: TensorDType? = nil) throws(SafeTensorsError) -> TensorView {
        let view = try tensor(name)
        if view.info.shape != shape {
            throw .shapeMismatch(path: url.path, name: name, expected: shape, found: view.info.shape)
        }
        if let dtype, view.info.dtype != dtype {
            throw .dtypeMismatch(path: url.path, name: name, expected: dtype.rawValue, found: view.info.dtype.rawValue)
        }
        return view
    }

    private static func parseHeader(_ data: Data, path: String, dataLength: Int) throws -> ([String: TensorInfo], [String: String]) {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SafeTensorsError.corruptHeader(path: path, reason: "header is not a JSON object")
        }
        var infos: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                if let dict = value as? [String: Any] {
                    for (k, v) in dict { meta[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any],
                  let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2
            else { throw SafeTensorsError.corruptHeader(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let dtype = TensorDType(rawValue: dtypeName) else {
                throw SafeTensorsError.unsupportedDType(path: path, name: name, dtype: dtypeName)
            }
            let shape = try shapeAny.map { (v: Any) -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else {
                    throw SafeTensorsError.corruptHeader(path: path, reason: "entry '\(name)' has a bad shape")
                }
                return n
            }
            guard let begin = (offsetsAny[0] as? NSNumber)?.intValue, let end = (offsetsAny[1] as? NSNumber)?.intValue,
                  begin >= 0, end >= begin, end <= dataLength
            else {
                throw SafeTensorsError.corruptHeader(path: path, reason: "entry '\(name)' has data offsets outside the data section (\(dataLength) bytes)")
            }
            let count = shape.reduce(1, *)
            guard count * dtype.byteSize == end - begin else {
                throw SafeTensorsError.corruptHeader(
                    path: path, reason: "entry '\(name)' shape \(shape) of \(dtype.rawValue) needs \(count * dtype.byteSize) bytes, offsets give \(end - begin)")
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        return (infos, meta)
    }
}
