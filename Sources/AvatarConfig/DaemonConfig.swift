import Foundation

/// The daemon's configuration (TOML). Every field has the protocol spec's or a documented default, so
/// `avatard serve` with no file serves on 127.0.0.1:8080 (public) and 127.0.0.1:9090 (admin).
public struct DaemonConfig: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        public var maxSessions = 4
        public var maxBufferSeconds = 10.0
        public var idleTimeoutSeconds = 30.0
        /// SIGTERM: how long sessions get to finalize their outputs before the daemon exits anyway.
        public var drainTimeoutSeconds = 30.0
        /// Public connections that have not finished their HTTP upgrade: the header read timeout and the
        /// cap on how many may be open at once (slowloris).
        public var headerTimeoutSeconds = 10.0
        public var maxPendingConnections = 256
        /// Capacity by measured cost: sessions are admitted while their avatars' measured device time per
        /// second of video fits `replicas × (1 − capacity_headroom)`; `max_sessions` stays an upper bound.
        /// 1 turns the measurement-based admission off (only `max_sessions` applies).
        public var capacityHeadroom = 0.2
        /// WebRTC viewers (WHEP) one session of a WebRTC preset may have at once; more get HTTP 503.
        public var maxViewersPerSession = 8
        public init() {}
    }

    public struct Device: Sendable, Equatable {
        /// discrete | integrated | cpu | any. The daemon refuses to start on a mismatch.
        public var requireDeviceType = "any"
        /// Explicit device index (as listed by `avatard devices`), overriding the preference order.
        public var index: Int?
        /// Explicit device by name: a case-insensitive substring of the device name (e.g. "H100").
        public var name: String?
        /// Where the Vulkan pipeline cache is kept (systemd: $CACHE_DIRECTORY).
        public var cacheDirectory: String?
        /// Logical devices opened on the chosen physical device, each with its own queue and its own copy of
        /// every avatar's weights; sessions go to the least busy one. nil: 1 on GPUs, one per CPU core (at
        /// most 4) on a CPU driver, whose single queue would otherwise run every session's work in turn.
        public var replicas: Int?
        /// fp32 | fp16: activation storage of the MimicTalk renderer (fp16: fp32 arithmetic, see docs/renderer.md).
        public var rendererPrecision = "fp32"
        public init() {}
    }

    public struct Log: Sendable, Equatable {
        /// logfmt | json
        public var format = "logfmt"
        /// trace | debug | info | notice | warning | error | critical
        public var level = "info"
        public init() {}
    }

    public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
    public var adminListen = ListenAddress(host: "127.0.0.1", port: 9090)
    public var tokens: [String] = []
    /// Directory scanned for avatar bundles at start (each subdirectory with a manifest.json is one bundle).
    public var avatarsDirectory: String?
    /// Also load the avatars shipped with avatard.
    public var builtinAvatars = true
    /// Loaded avatars served under other names with their own session pose (`[avatars.variants.NAME]`).
    public var avatarVariants: [AvatarVariant] = []
    /// Directory under which file outputs are written.
    public var outputDirectory = "recordings"
    /// Fixed output delay: frame k is due at k/fps plus this, on the session timeline.
    public var outputDelayMs = 300
    /// Directory of built-in presets (`Pipelines/`); nil means the one shipped with avatard.
    public var presetsDirectory: String?
    /// Presets added by the operator in the config file.
    public var presets: [OutputPreset] = []
    /// Extra element factory names operators allow in their presets.
    public var extraAllowedElements: [String] = []
    public var limits = Limits()
    public var device = Device()
    public var log = Log()
    /// File the configuration came from (nil: defaults).
    public var file: String?

    public init() {}

    /// Loads and validates a config file. Errors name the key and line.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, key: "", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfig {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: "", message: "TOML syntax: \(error.message) (column \(error.column))")
        }
        var config = DaemonConfig()
        config.file = file
        var top = TableReader(root, file: file)

        if var s = try top.table("server") {
            if let v = try s.string("listen") {
                guard let a = ListenAddress(v) else { throw s.error("listen", "'\(v)' is not host:port") }
                config.listen = a
            }
            if let v = try s.string("admin_listen") {
                guard let a = ListenAddress(v) else { throw s.error("admin_listen", "'\(v)' is not host:port") }
                config.adminListen = a
            }
            config.tokens = try s.strings("tokens") ?? []
            if let tokensFile = try s.string("tokens_file") {
                guard let text = try? String(contentsOfFile: tokensFile, encoding: .utf8) else {
                    throw s.error("tokens_file", "cannot read '\(tokensFile)'")
                }
                config.tokens += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            }
            if config.tokens.contains(where: \.isEmpty) { throw s.error("tokens", "tokens must not be empty strings") }
            try s.rejectUnknownKeys()
        }
        if var a = try top.table("avatars") {
            config.avatarsDirectory = try a.string("directory")
            config.builtinAvatars = try a.bool("builtin") ?? true
            if var variants = try a.table("variants") {
                variants.consumeAll()
                for name in variants.table.keys.sorted() {
                    guard var v = try variants.table(name) else { continue }
                    config.avatarVariants.append(try AvatarVariant.parse(&v, name: name))
                }
            }
            try a.rejectUnknownKeys()
        }
        if var o = try top.table("output") {
            config.outputDirectory = try o.string("directory") ?? config.outputDirectory
            config.outputDelayMs = try o.int("delay_ms", range: 0...5000) ?? config.outputDelayMs
            config.presetsDirectory = try o.string("presets_directory")
            config.extraAllowedElements = try o.strings("allow_elements") ?? []
            if var presets = try o.table("presets") {
                presets.consumeAll()
                for name in presets.table.keys {
                    guard var p = try presets.table(name) else { continue }
                    config.presets.append(try OutputPreset.parse(&p, name: name, origin: "\(file): [output.presets.\(name)]"))
                }
            }
            try o.rejectUnknownKeys()
        }
        if var l = try top.table("limits") {
            config.limits.maxSessions = try l.int("max_sessions", range: 1...1024) ?? config.limits.maxSessions
            config.limits.maxBufferSeconds = try l.double("max_buffer_seconds", range: 0.5...600) ?? config.limits.maxBufferSeconds
            config.limits.idleTimeoutSeconds = try l.double("idle_timeout_seconds", range: 1...86400) ?? config.limits.idleTimeoutSeconds
            config.limits.drainTimeoutSeconds = try l.double("drain_timeout_seconds", range: 1...3600) ?? config.limits.drainTimeoutSeconds
            config.limits.headerTimeoutSeconds = try l.double("header_timeout_seconds", range: 0.5...300) ?? config.limits.headerTimeoutSeconds
            config.limits.maxPendingConnections = try l.int("max_pending_connections", range: 1...65536) ?? config.limits.maxPendingConnections
            config.limits.capacityHeadroom = try l.double("capacity_headroom", range: 0...1) ?? config.limits.capacityHeadroom
            config.limits.maxViewersPerSession = try l.int("max_viewers_per_session", range: 0...256) ?? config.limits.maxViewersPerSession
            try l.rejectUnknownKeys()
        }
        if var d = try top.table("device") {
            config.device.requireDeviceType = try d.oneOf("require_device_type", ["discrete", "integrated", "cpu", "any"]) ?? "any"
            config.device.index = try d.int("index", range: 0...64)
            config.device.name = try d.string("name")
            config.device.cacheDirectory = try d.string("cache_directory")
            config.device.replicas = try d.int("replicas", range: 1...16)
            config.device.rendererPrecision = try d.oneOf("renderer_precision", ["fp32", "fp16"]) ?? "fp32"
            try d.rejectUnknownKeys()
        }
        if var l = try top.table("log") {
            config.log.format = try l.oneOf("format", ["logfmt", "json"]) ?? "logfmt"
            config.log.level = try l.oneOf("level", ["trace", "debug", "info", "notice", "warning", "error", "critical"]) ?? "info"
            try l.rejectUnknownKeys()
        }
        try top.rejectUnknownKeys()
        return config
    }
}
