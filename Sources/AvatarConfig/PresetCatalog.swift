import Foundation

/// The presets a daemon offers: built-in files from `Pipelines/` plus the operator's from the config file
/// (an operator preset with a built-in's name replaces it).
public struct PresetCatalog: Sendable {
    public private(set) var presets: [String: OutputPreset] = [:]
    /// Files that failed to load: reported and skipped.
    public private(set) var problems: [String] = []

    public init(presets: [OutputPreset] = []) {
        for p in presets { self.presets[p.name] = p }
    }

    /// Loads every `*.toml` in `directory`. A bad file is reported in `problems`, never fatal for the others.
    public static func load(directory: String, operatorPresets: [OutputPreset]) -> PresetCatalog {
        var catalog = PresetCatalog()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        if files.isEmpty { catalog.problems.append("\(directory): no preset files found") }
        for file in files.sorted() where file.hasSuffix(".toml") {
            let path = (directory as NSString).appendingPathComponent(file)
            do {
                catalog.add(try loadFile(path))
            } catch {
                catalog.problems.append(error.description)
            }
        }
        for p in operatorPresets { catalog.add(p) }
        return catalog
    }

    public static func loadFile(_ path: String) throws(ConfigError) -> OutputPreset {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(file: path, line: 0, key: "", message: "cannot read preset file")
        }
        let table: TOMLTable
        do {
            table = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: path, line: error.line, key: "", message: "TOML syntax: \(error.message)")
        }
        var reader = TableReader(table, file: path)
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try OutputPreset.parse(&reader, name: stem, origin: path)
    }

    public mutating func add(_ preset: OutputPreset) { presets[preset.name] = preset }

    public mutating func remove(_ name: String, problem: String) {
        presets[name] = nil
        problems.append(problem)
    }

    public subscript(name: String) -> OutputPreset? { presets[name] }

    public var names: [String] { presets.keys.sorted() }
}
