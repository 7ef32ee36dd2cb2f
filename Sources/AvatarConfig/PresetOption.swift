/// One option a preset declares: its type, default, bounds and whether clients may set it.
public struct PresetOption: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case int(min: Int, max: Int)
        case bool
        case string(maxLength: Int)
        case enumeration([String])
    }

    public var name: String
    public var kind: Kind
    public var defaultValue: String
    public var clientSettable: Bool
    public var doc: String

    public init(name: String, kind: Kind, defaultValue: String, clientSettable: Bool, doc: String = "") {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.clientSettable = clientSettable
        self.doc = doc
    }

    /// Validates a value (given as text) and renders it for a GStreamer pipeline description:
    /// numbers and booleans bare, strings double-quoted with escapes, so no value can add elements.
    public func render(_ value: String) throws(PresetOptionError) -> String {
        switch kind {
        case let .int(lo, hi):
            guard let v = Int(value), v >= lo, v <= hi else {
                throw .invalid(option: name, reason: "must be an integer in \(lo)...\(hi), got '\(value)'")
            }
            return String(v)
        case .bool:
            guard value == "true" || value == "false" else {
                throw .invalid(option: name, reason: "must be true or false, got '\(value)'")
            }
            return value
        case let .string(maxLength):
            guard value.count <= maxLength, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw .invalid(option: name, reason: "must be at most \(maxLength) printable characters")
            }
            return "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        case let .enumeration(values):
            guard values.contains(value) else {
                throw .invalid(option: name, reason: "must be one of \(values.joined(separator: ", ")), got '\(value)'")
            }
            return value
        }
    }
}

/// A rejected option value; the session answers `unsupported` (4001).
public enum PresetOptionError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(option: String, reason: String)
    case notClientSettable(option: String)
    case unknown(option: String)
    case unresolvedPlaceholder(String)

    public var description: String {
        switch self {
        case let .invalid(option, reason): "option '\(option)' \(reason)"
        case let .notClientSettable(option): "option '\(option)' is not settable by clients"
        case let .unknown(option): "unknown option '\(option)'"
        case let .unresolvedPlaceholder(name): "pipeline placeholder '{\(name)}' has no value"
        }
    }
}
