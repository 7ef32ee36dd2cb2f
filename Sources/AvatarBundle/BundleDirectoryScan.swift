import Foundation

/// Loads every bundle under a directory. A bundle that fails validation is reported and skipped;
/// it is never a crash and never a reason to refuse the others.
public struct BundleDirectoryScan: Sendable {
    public var bundles: [AvatarBundle] = []
    public var failures: [BundleError] = []

    public init(directories: [URL], supportedKinds: [String: Set<String>]) {
        var seen: Set<String> = []
        for directory in directories {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for entry in entries.sorted() {
                let url = directory.appendingPathComponent(entry)
                guard FileManager.default.fileExists(atPath: url.appendingPathComponent("manifest.json").path) else { continue }
                do {
                    let bundle = try AvatarBundle(directory: url, supportedKinds: supportedKinds)
                    guard seen.insert(bundle.name).inserted else {
                        failures.append(BundleError(bundle: entry, "an avatar named '\(bundle.name)' is already loaded; skipped"))
                        continue
                    }
                    bundles.append(bundle)
                } catch {
                    failures.append(error)
                }
            }
        }
    }
}
