#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization

/// One line per event on stderr, logfmt or JSON, prefixed with the syslog priority `<N>` so journald
/// (SyslogLevelPrefix=yes, the default) records the right level without libsystemd.
public struct JournalLogHandler: LogHandler {
    public enum Format: String, Sendable { case logfmt, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format
    private static let lock = Mutex(())

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.render(level: event.level, message: "\(event.message)", metadata: merged, label: label, format: format)
        Self.lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { break }
                offset += n
            }
        }
    }

    public static func render(level: Logger.Level, message: String, metadata: Logger.Metadata, label: String, format: Format) -> String {
        let prefix = "<\(priority(level))>"
        switch format {
        case .json:
            var object: [String: Any] = ["level": level.rawValue, "msg": message, "logger": label]
            for (k, v) in metadata { object[k] = "\(v)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return prefix + String(decoding: data, as: UTF8.self) + "\n"
        case .logfmt:
            var parts = ["level=\(level.rawValue)", "msg=\(quote(message))"]
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { parts.append("\(k)=\(quote("\(v)"))") }
            return prefix + parts.joined(separator: " ") + "\n"
        }
    }

    private static func quote(_ s: String) -> String {
        if !s.isEmpty, !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) { return s }
        return "\"" + s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n") + "\""
    }
}
