/// Typed, line-aware access to a TOML table for configuration decoding. Unknown keys are errors
/// (a misspelt key must not be silently ignored), reported with the key's full dotted path and line.
public struct TableReader {
    public let table: TOMLTable
    public let path: String
    public let file: String
    private var consumed: Set<String> = []

    public init(_ table: TOMLTable, path: String = "", file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    public func fullKey(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: table.line(of: key), key: fullKey(key), message: message)
    }

    private func mismatch(_ key: String, _ expected: String, _ found: TOMLValue) -> ConfigError {
        error(key, "expected \(expected), found \(found.typeName)")
    }

    public func has(_ key: String) -> Bool { table[key] != nil }

    public mutating func string(_ key: String) throws(ConfigError) -> String? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .string(let s)?: return s
        case let other?: throw mismatch(key, "a string", other)
        }
    }

    public mutating func int(_ key: String, range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .integer(let v)?:
            if let range, !range.contains(Int(v)) {
                throw error(key, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return Int(v)
        case let other?: throw mismatch(key, "an integer", other)
        }
    }

    public mutating func double(_ key: String, range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double? {
        consumed.insert(key)
        let v: Double
        switch table[key] {
        case nil: return nil
        case .integer(let i)?: v = Double(i)
        case .float(let f)?: v = f
        case let other?: throw mismatch(key, "a number", other)
        }
        if let range, !range.contains(v) {
            throw error(key, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    public mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .boolean(let b)?: return b
        case let other?: throw mismatch(key, "a boolean (true or false)", other)
        }
    }

    public mutating func strings(_ key: String) throws(ConfigError) -> [String]? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .array(let items)?:
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw error(key, "expected an array of strings, found \(item.typeName) in it") }
                out.append(s)
            }
            return out
        case let other?: throw mismatch(key, "an array of strings", other)
        }
    }

    /// An array of exactly `count` finite numbers (integers or floats).
    public mutating func numbers(_ key: String, count: Int) throws(ConfigError) -> [Double]? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .array(let items)?:
            var out: [Double] = []
            for item in items {
                switch item {
                case .integer(let i): out.append(Double(i))
                case .float(let f) where f.isFinite: out.append(f)
                default: throw error(key, "expected an array of \(count) finite numbers, found \(item.typeName) in it")
                }
            }
            guard out.count == count else { throw error(key, "expected \(count) numbers, found \(out.count)") }
            return out
        case let other?: throw mismatch(key, "an array of \(count) numbers", other)
        }
    }

    public mutating func table(_ key: String) throws(ConfigError) -> TableReader? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .table(let t)?: return TableReader(t, path: fullKey(key), file: file)
        case let other?: throw mismatch(key, "a table", other)
        }
    }

    public mutating func oneOf(_ key: String, _ allowed: [String]) throws(ConfigError) -> String? {
        guard let s = try string(key) else { return nil }
        guard allowed.contains(s) else {
            throw error(key, "'\(s)' is not one of \(allowed.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return s
    }

    /// Marks every key as read (for tables whose keys are names, like presets).
    public mutating func consumeAll() { consumed.formUnion(table.keys) }

    /// Throws on the first key that was never read.
    public func rejectUnknownKeys() throws(ConfigError) {
        for key in table.keys where !consumed.contains(key) {
            throw error(key, "unknown key")
        }
    }
}
