import AvatarConfig
import AvatarServer
import Logging

/// Bootstraps swift-log with the journald-friendly handler (once per process).
enum LogSetup {
    static func bootstrap(_ config: DaemonConfig.Log, label: String = "avatard") -> Logger {
        let level = Logger.Level(rawValue: config.level) ?? .info
        let format = JournalLogHandler.Format(rawValue: config.format) ?? .logfmt
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, format: format, level: level) }
        return Logger(label: label)
    }
}
