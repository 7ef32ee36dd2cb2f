import AvatarConfig
import Foundation
import Testing

/// The README's `avatard send … --output P --option k=v` examples use options the shipped preset P really
/// lets a client set (it once showed a destination port, which clients may never set).
@Suite struct ReadmeExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func sendExamplesUseClientSettableOptions() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let catalog = PresetCatalog.load(directory: Self.root.appendingPathComponent("Pipelines").path, operatorPresets: [])
        var checked = 0
        for line in readme.split(separator: "\n") where line.contains("avatard send") && line.contains("--option") {
            let words = line.split(separator: " ").map(String.init)
            guard let o = words.firstIndex(of: "--output"), o + 1 < words.count else { continue }
            let preset = try #require(catalog[words[o + 1]], "README names preset \(words[o + 1])")
            var options: [String: String] = [:]
            for (i, w) in words.enumerated() where w == "--option" && i + 1 < words.count {
                let kv = words[i + 1].split(separator: "=", maxSplits: 1).map(String.init)
                options[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            let daemon = ["location": "\"f\"", "session_id": "s", "width": "64", "height": "64", "fps": "25", "keyframe_interval": "50"]
            #expect(throws: Never.self, "\(line)") { _ = try preset.resolve(clientOptions: options, daemonValues: daemon) }
            checked += 1
        }
        #expect(checked >= 1)
    }
}
