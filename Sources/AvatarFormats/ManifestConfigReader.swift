/// Typed reads of a bundle component's `config` object: a missing key gives the model's default, a present one
/// must have the right type and range, else `fail` turns a message naming `<prefix><key>` and the value found
/// into the component's own error.
public struct ManifestConfigReader {
    public let values: [String: JSONValue]
    let prefix: String
    let fail: (String) -> any Error

    public init(_ values: [String: JSONValue]?, prefix: String = "config.", fail: @escaping (String) -> any Error) {
        self.values = values ?? [:]
        self.prefix = prefix
        self.fail = fail
    }

    /// An error about `key` from the component's constructor.
    public func error(_ key: String, _ message: String) -> any Error { fail("\(prefix)\(key) \(message)") }

    public func int(_ key: String, _ fallback: Int, min: Int = 1) throws -> Int {
        guard let v = values[key] else { return fallback }
        guard let i = v.int, i >= min else { throw error(key, "must be an integer ≥ \(min), found \(v)") }
        return i
    }

    /// A non-empty list of positive integers.
    public func ints(_ key: String, _ fallback: [Int]) throws -> [Int] {
        guard let v = values[key] else { return fallback }
        guard case .array(let items) = v, !items.isEmpty else { throw error(key, "must be a non-empty list of integers, found \(v)") }
        return try items.map {
            guard let i = $0.int, i > 0 else { throw error(key, "must hold positive integers, found \($0)") }
            return i
        }
    }

    public func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        guard let v = values[key] else { return fallback }
        guard let b = v.bool else { throw error(key, "must be true or false, found \(v)") }
        return b
    }

    /// A finite number, positive unless `positive` is false.
    public func double(_ key: String, _ fallback: Double, positive: Bool = true) throws -> Double {
        guard let v = values[key] else { return fallback }
        guard let d = v.double, d.isFinite, !positive || d > 0 else {
            throw error(key, "must be a \(positive ? "positive" : "finite") number, found \(v)")
        }
        return d
    }

    public func string(_ key: String, _ fallback: String) throws -> String {
        guard let v = values[key] else { return fallback }
        guard let s = v.string else { throw error(key, "must be a string, found \(v)") }
        return s
    }
}
