import Foundation

/// Where avatard finds what it ships (output presets, built-in avatars): `$AVATARD_DATA_DIR`, then
/// `<prefix>/share/avatard` next to the executable, then the source tree it was built from.
enum DataPaths {
    static func root() -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["AVATARD_DATA_DIR"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("share/avatard"))
        // Sources/avatard/DataPaths.swift → repository root.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("Pipelines").path) }
    }

    static var pipelines: String? { root()?.appendingPathComponent("Pipelines").path }
    static var builtinAvatars: URL? { root()?.appendingPathComponent("Avatars") }
}
