import AvatarBundle
import AvatarFormats
import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// Tests/Fixtures/renderer (tools/make_renderer_fixtures.py): converted bundles of synthetic person checkpoints
/// and, per bundle, one frame's inputs and the float64 reference's intermediates.
struct RendererFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/renderer")

    let name: String
    let config: RendererConfig
    let weights: WeightStore
    let frame: SafeTensorsFile
    let device: VulkanDevice
    let ops: Operators

    /// `small` (tri-plane, torso input 5) or `trigrid` (depth 3, torso input 3).
    init(_ name: String) throws {
        (device, ops) = try RendererGPU.get()
        self.name = name
        let bundle = Self.directory.appendingPathComponent(name)
        let manifest = try JSONDecoder().decode(BundleManifest.self, from: Data(contentsOf: bundle.appendingPathComponent("manifest.json")))
        config = try RendererConfig(manifest: manifest.renderer?.config)
        weights = try WeightStore(url: bundle.appendingPathComponent("renderer.safetensors"), device: device)
        frame = try SafeTensorsFile(url: Self.directory.appendingPathComponent("\(name)_frame.safetensors"))
    }

    /// A tensor of the frame file (inputs or reference intermediates) as floats.
    func values(_ key: String) throws -> [Float] { try frame.tensor(key).floats() }
    func shape(_ key: String) throws -> [Int] { try frame.tensor(key).shape }

    /// A graph over the fixture's bundle weights.
    func builder(_ graphName: String) -> RendererGraphBuilder {
        RendererGraphBuilder(graph: Graph(name: graphName, ops: ops), weights: weights, config: config)
    }

    /// Checks `got` against the reference `key`: max |Δ| ≤ maxAbs and mean |Δ| ≤ meanAbs; prints the measured errors.
    func expectClose(_ got: [Float], _ key: String, maxAbs: Double, meanAbs: Double,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = try values(key)
        #expect(got.count == want.count, "\(name) \(key): \(got.count) values, reference has \(want.count)", sourceLocation: sourceLocation)
        guard got.count == want.count else { return }
        var worst = 0.0, sum = 0.0, scale = 0.0
        for (a, b) in zip(got, want) {
            let d = Double(abs(a - b))
            worst = max(worst, d.isNaN ? .infinity : d); sum += d; scale = max(scale, Double(abs(b)))
        }
        let mean = sum / Double(max(1, want.count))
        print("renderer \(name) \(key): max |Δ| \(worst), mean |Δ| \(mean) (max |ref| \(scale); tolerances \(maxAbs) / \(meanAbs))")
        #expect(worst <= maxAbs && mean <= meanAbs, "\(name) \(key): max |Δ| \(worst) > \(maxAbs) or mean \(mean) > \(meanAbs)",
                sourceLocation: sourceLocation)
    }
}

/// One device for the suite's GPU tests.
enum RendererGPU {
    static let shared: Result<(VulkanDevice, Operators), any Error> = Result {
        let device = try VulkanDevice()
        return (device, Operators(library: ShaderLibrary(device: device)))
    }
    static func get() throws -> (VulkanDevice, Operators) { try shared.get() }
}
