import AvatarBundle
import AvatarFormats
import AvatarTestSupport
import Foundation
import Testing

/// Seeded fuzzing of avatar bundles as the daemon loads them at start: a mutated `manifest.json` or
/// safetensors header is a `BundleError` naming the bundle (the bundle is skipped), never a crash.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ManifestFuzzTests {
    static let kinds: [String: Set<String>] = ["motion_model": ["test_motion"], "audio_frontend": ["log_mel"]]

    @Test func mutatedBundlesAreErrorsNotCrashes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafeTensorsWriter()
        w.add("proj.weight", shape: [4, 3], floats: (0..<12).map(Float.init))
        w.add("calm.motion", shape: [5, 2], floats: [Float](repeating: 0, count: 10))
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        let weights = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        var m = BundleManifest(name: "fuzz", video: .init(width: 64, height: 64, fps: 25))
        m.motionModel = .init(kind: "test_motion", weights: ["model.safetensors"], tensors: ["proj.weight": [4, 3]])
        m.styles = [.init(name: "calm", file: "model.safetensors", motionTensor: "calm.motion")]
        m.motionNames = ["jaw_open", "blink"]
        let manifest = try JSONEncoder().encode(m)
        // The unmutated bundle loads.
        try manifest.write(to: dir.appendingPathComponent("manifest.json"))
        _ = try AvatarBundle(directory: dir, supportedKinds: Self.kinds)

        var loaded = 0
        let ran = try Fuzz.run("manifest", iterations: 400) { i, r in
            let mutateWeights = Int.random(in: 0..<4, using: &r) == 0
            try Data(mutateWeights ? [UInt8](manifest) : r.mutate([UInt8](manifest), edits: Int.random(in: 1...12, using: &r)))
                .write(to: dir.appendingPathComponent("manifest.json"))
            // Weights: mutate the length prefix and JSON header (the first bytes), keep the rest.
            let head = min(weights.count, 200)
            let mutated = mutateWeights ? r.mutate([UInt8](weights.prefix(head))) + [UInt8](weights.dropFirst(head)) : [UInt8](weights)
            try Data(mutated).write(to: dir.appendingPathComponent("model.safetensors"))
            do {
                let bundle = try AvatarBundle(directory: dir, supportedKinds: Self.kinds)
                // What loads is usable: its style tensor reads back or fails with an error.
                _ = try? bundle.file("model.safetensors")?.tensor("calm.motion", shape: [5, 2])
                loaded += 1
            } catch let error as BundleError {
                #expect(!error.message.isEmpty && error.bundle == dir.lastPathComponent, "seed \(Fuzz.seed) case \(i)")
            } catch {
                Issue.record("seed \(Fuzz.seed) case \(i): not a BundleError: \(error)")
            }
        }
        #expect(ran > 0)
    }
}
