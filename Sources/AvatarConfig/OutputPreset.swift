/// An output preset: the sink side of a GStreamer pipeline (the daemon owns the appsrc heads named
/// `video` and `audio`), its pacing mode and the options it declares. Built-in presets live in
/// `Pipelines/<name>.toml`; operators add more under `[output.presets.<name>]` in the config file.
public struct OutputPreset: Sendable, Equatable {
    public var name: String
    public var mode: OutputMode
    public var description: String
    /// gst-launch syntax with `{placeholders}`.
    public var pipeline: String
    public var options: [PresetOption]
    /// Where the preset came from (file path or config key), for messages.
    public var origin: String
    /// Line of the `pipeline` key in that file (0: not from a file), so GStreamer's complaints about the
    /// description point at it.
    public var line: Int = 0

    /// Placeholders the daemon fills itself; every other `{name}` must be a declared option.
    public static let daemonPlaceholders: Set<String> = ["location", "session_id", "width", "height", "fps", "keyframe_interval"]

    public init(name: String, mode: OutputMode, description: String, pipeline: String, options: [PresetOption], origin: String) {
        self.name = name
        self.mode = mode
        self.description = description
        self.pipeline = pipeline
        self.options = options
        self.origin = origin
    }

    /// Names of the `{placeholders}` in the pipeline text.
    public var placeholders: [String] {
        var names: [String] = []
        var rest = pipeline[...]
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            names.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return names
    }

    /// Whether viewers join with WHEP: the pipeline ends its branches in tees named `whep_video`/`whep_audio`.
    public var isWebRTC: Bool { pipeline.contains("name=whep_video") }

    /// Whether the pipeline writes a file (it then needs the daemon's output directory).
    public var writesFile: Bool { placeholders.contains("location") }

    /// Parses one preset table (from a Pipelines file or the config file).
    public static func parse(_ reader: inout TableReader, name fallbackName: String?, origin: String) throws(ConfigError) -> OutputPreset {
        let name = try reader.string("name") ?? fallbackName
        guard let name, !name.isEmpty else { throw reader.error("name", "a preset needs a name") }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw reader.error("name", "preset name '\(name)' may only use letters, digits, '-' and '_'")
        }
        guard let modeText = try reader.oneOf("mode", ["live", "offline"]) else { throw reader.error("mode", "missing (live or offline)") }
        guard let pipeline = try reader.string("pipeline"), !pipeline.isEmpty else {
            throw reader.error("pipeline", "missing sink-side pipeline description")
        }
        let description = try reader.string("description") ?? ""
        var options: [PresetOption] = []
        if var optionsTable = try reader.table("options") {
            optionsTable.consumeAll()
            for key in optionsTable.table.keys {
                guard var o = try optionsTable.table(key) else { continue }
                options.append(try parseOption(&o, name: key))
            }
        }
        try reader.rejectUnknownKeys()
        var preset = OutputPreset(name: name, mode: OutputMode(rawValue: modeText) ?? .live, description: description,
                                  pipeline: pipeline, options: options, origin: origin)
        preset.line = reader.table.line(of: "pipeline")
        let declared = Set(options.map(\.name))
        for placeholder in preset.placeholders where !declared.contains(placeholder) && !daemonPlaceholders.contains(placeholder) {
            throw reader.error("pipeline", "placeholder '{\(placeholder)}' is neither a declared option nor one of \(daemonPlaceholders.sorted().joined(separator: ", "))")
        }
        return preset
    }

    private static func parseOption(_ o: inout TableReader, name: String) throws(ConfigError) -> PresetOption {
        guard let type = try o.oneOf("type", ["int", "bool", "string", "enum"]) else { throw o.error("type", "missing (int, bool, string or enum)") }
        let kind: PresetOption.Kind
        switch type {
        case "int":
            kind = .int(min: try o.int("min") ?? Int(Int32.min), max: try o.int("max") ?? Int(Int32.max))
        case "bool":
            kind = .bool
        case "enum":
            guard let values = try o.strings("values"), !values.isEmpty else { throw o.error("values", "an enum option needs values") }
            kind = .enumeration(values)
        default:
            kind = .string(maxLength: try o.int("max_length", range: 1...4096) ?? 256)
        }
        let defaultValue: String
        switch o.table["default"] {
        case .string(let s)?: defaultValue = s
        case .integer(let i)?: defaultValue = String(i)
        case .boolean(let b)?: defaultValue = String(b)
        case nil: throw o.error("default", "missing default value")
        case let other?: throw o.error("default", "expected a string, integer or boolean, found \(other.typeName)")
        }
        _ = try? o.string("default")
        let client = try o.bool("client") ?? false
        let doc = try o.string("doc") ?? ""
        try o.rejectUnknownKeys()
        let option = PresetOption(name: name, kind: kind, defaultValue: defaultValue, clientSettable: client, doc: doc)
        do {
            _ = try option.render(defaultValue)
        } catch {
            throw o.error("default", "default \(error)")
        }
        return option
    }

    /// Applies client options (only declared, client-settable ones) and daemon values. Integers, booleans
    /// and enumerations are written from the validated value (canonical digits, `true`/`false`, the
    /// operator's own enumeration text); operator-only strings are quoted; client-settable strings become
    /// tokens bound after parsing (see `ResolvedPipeline`), so no client byte reaches the parser.
    public func resolve(clientOptions: [String: String], daemonValues: [String: String]) throws(PresetOptionError) -> ResolvedPipeline {
        var values: [String: String] = [:]
        for (key, value) in clientOptions {
            guard let option = options.first(where: { $0.name == key }) else { throw .unknown(option: key) }
            guard option.clientSettable else { throw .notClientSettable(option: key) }
            values[key] = value
        }
        var rendered: [String: String] = [:]
        var bindings: [String: String] = [:]
        for option in options {
            let value = values[option.name] ?? option.defaultValue
            let text = try option.render(value)
            if option.clientSettable, case .string = option.kind {
                let token = "avdopt" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + "x" + String(bindings.count)
                bindings[token] = value
                rendered[option.name] = token
            } else {
                rendered[option.name] = text
            }
        }
        for (key, value) in daemonValues { rendered[key] = value }
        var out = ""
        var rest = pipeline[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { out += rest[open...]; rest = ""; break }
            let name = String(after[..<close])
            guard let value = rendered[name] else { throw .unresolvedPlaceholder(name) }
            out += value
            rest = after[after.index(after: close)...]
        }
        out += rest
        return ResolvedPipeline(text: out, bindings: bindings)
    }
}

extension OutputPreset {
    /// File extension for outputs that write a file, from the muxer the pipeline names.
    public var fileExtension: String {
        if pipeline.contains("matroskamux") { return "mkv" }
        if pipeline.contains("webmmux") { return "webm" }
        if pipeline.contains("mpegtsmux") { return "ts" }
        return "mp4"
    }
}
