/// Errors from reading safetensors files; every case names the file and, where known, the tensor.
public enum SafeTensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case corruptHeader(path: String, reason: String)
    case unsupportedDType(path: String, name: String, dtype: String)
    case missingTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    case dtypeMismatch(path: String, name: String, expected: String, found: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "\(path): cannot open: \(reason)"
        case let .corruptHeader(path, reason): "\(path): corrupt safetensors header: \(reason)"
        case let .unsupportedDType(path, name, dtype): "\(path): tensor '\(name)' has unsupported dtype \(dtype)"
        case let .missingTensor(path, name): "\(path): missing tensor '\(name)'"
        case let .shapeMismatch(path, name, expected, found):
            "\(path): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .dtypeMismatch(path, name, expected, found):
            "\(path): tensor '\(name)' has dtype \(found), expected \(expected)"
        }
    }
}
