/// A configuration problem, naming the file, the key and the line. `avatard` exits with 78 (EX_CONFIG) on it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let key: String
    public let message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line)" : file
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }

    /// sysexits.h EX_CONFIG.
    public static let exitCode: Int32 = 78
}
