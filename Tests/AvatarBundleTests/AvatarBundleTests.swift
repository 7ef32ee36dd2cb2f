import AvatarBundle
import AvatarFormats
import Foundation
import Testing

@Suite struct AvatarBundleTests {
    static let kinds: [String: Set<String>] = ["motion_model": ["test_motion"], "audio_frontend": ["log_mel"]]

    /// Writes a bundle with one motion model and one style into a fresh directory.
    func makeBundle(mutate: (inout BundleManifest) -> Void = { _ in }, weights: (inout SafeTensorsWriter) -> Void = { _ in }) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var w = SafeTensorsWriter()
        w.add("proj.weight", shape: [4, 3], floats: (0..<12).map(Float.init))
        w.add("calm.motion", shape: [5, 2], floats: [Float](repeating: 0, count: 10))
        w.add("calm.audio", shape: [3200], floats: [Float](repeating: 0, count: 3200))
        weights(&w)
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        var m = BundleManifest(name: "tester", video: .init(width: 64, height: 64, fps: 25))
        m.motionModel = .init(kind: "test_motion", weights: ["model.safetensors"], tensors: ["proj.weight": [4, 3]])
        m.styles = [.init(name: "calm", file: "model.safetensors", motionTensor: "calm.motion", audioTensor: "calm.audio")]
        m.motionNames = ["jaw_open", "blink"]
        mutate(&m)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(m).write(to: dir.appendingPathComponent("manifest.json"))
        return dir
    }

    @Test func loadsAValidBundle() throws {
        let bundle = try AvatarBundle(directory: try makeBundle(), supportedKinds: Self.kinds)
        #expect(bundle.name == "tester")
        #expect(bundle.styleNames == ["calm"])
        let t = try bundle.file("model.safetensors")!.tensor("proj.weight", shape: [4, 3])
        #expect(t.floats() == (0..<12).map(Float.init))
    }

    @Test func reportsExpectedVersusFoundShapes() throws {
        let dir = try makeBundle(mutate: { $0.motionModel?.tensors = ["proj.weight": [3, 4]] })
        #expect {
            try AvatarBundle(directory: dir, supportedKinds: Self.kinds)
        } throws: { error in
            "\(error)".contains("model.safetensors: tensor 'proj.weight' has shape [4, 3], expected [3, 4]")
        }
    }

    @Test(arguments: [
        ("missing tensor", "is in none of"),
        ("unknown kind", "is not supported"),
        ("bad style length", "expected about"),
        ("bad version", "version 2 is not supported"),
        ("missing file", "cannot open"),
        ("escaping path", "must stay inside the bundle"),
        ("bad default style", "default_style"),
    ])
    func rejectsBadBundles(kind: String, fragment: String) throws {
        let dir = try makeBundle(mutate: { m in
            switch kind {
            case "missing tensor": m.motionModel?.tensors = ["nope": [1]]
            case "unknown kind": m.motionModel?.kind = "mystery"
            case "bad style length": m.styles?[0].audioTensor = "proj.weight"
            case "bad version": m.version = 2
            case "missing file": m.motionModel?.weights = ["absent.safetensors"]
            case "escaping path": m.motionModel?.weights = ["../x.safetensors"]
            case "bad default style": m.defaultStyle = "lively"
            default: break
            }
        })
        #expect {
            try AvatarBundle(directory: dir, supportedKinds: Self.kinds)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test func corruptSafetensorsHeaderIsReported() throws {
        let dir = try makeBundle()
        var bytes = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        bytes[8] = UInt8(ascii: "#")
        try bytes.write(to: dir.appendingPathComponent("model.safetensors"))
        #expect {
            try AvatarBundle(directory: dir, supportedKinds: Self.kinds)
        } throws: { error in
            "\(error)".contains("corrupt safetensors header")
        }
    }

    @Test func directoryScanSkipsBadBundlesAndKeepsGoodOnes() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let good = try makeBundle()
        let bad = try makeBundle(mutate: { $0.name = "broken"; $0.motionModel?.kind = "mystery" })
        try FileManager.default.moveItem(at: good, to: root.appendingPathComponent("good"))
        try FileManager.default.moveItem(at: bad, to: root.appendingPathComponent("bad"))
        let scan = BundleDirectoryScan(directories: [root], supportedKinds: Self.kinds)
        #expect(scan.bundles.map(\.name) == ["tester"])
        #expect(scan.failures.count == 1)
        #expect(scan.failures.first?.description.contains("mystery") == true)
    }
}
