import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarStages
import Foundation
import Testing

/// The bundle path: manifest `audio_frontend` (kind "hubert", config, one weight file) → HuBERTWeights →
/// encoder, giving the same rows as the recipe-built model.
@Suite(.serialized) struct HuBERTBundleTests {
    @Test func bundleComponentBuildsTheEncoder() throws {
        let (device, ops) = try MotionGPU.get()
        let config = HuBERTConfig.tiny(stable: false)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hubert-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = SafeTensorsWriter()
        for entry in config.recipe() {
            writer.add(entry.name, shape: entry.shape, floats: RecipeWeights.generate(
                name: entry.name, count: entry.shape.reduce(1, *), scale: entry.scale, offset: entry.offset))
        }
        try writer.write(to: dir.appendingPathComponent("hubert.safetensors"))
        var manifest = BundleManifest(name: "hubert-test", video: .init(width: 64, height: 64, fps: 25))
        manifest.audioFrontend = .init(kind: "hubert", weights: ["hubert.safetensors"],
                                       config: try MotionFixtures.manifestConfig("hubert_tiny_postln"),
                                       tensors: ["pos_conv.weight": [24, 6, 8]])
        manifest.motionModel = .init(kind: "ics_a2m")
        try JSONEncoder().encode(manifest).write(to: dir.appendingPathComponent("manifest.json"))
        let bundle = try AvatarBundle(directory: dir, supportedKinds: ["audio_frontend": ["hubert"], "motion_model": ["ics_a2m"]])

        let weights = try HuBERTWeights(bundle: bundle, component: try #require(bundle.manifest.audioFrontend), device: device)
        #expect(weights.config == config)
        let wave = try MotionFixtures.file("hubert_tiny").tensor("io.wave").floats()
        let fromBundle = try HuBERTEncoder(weights: weights, ops: ops).utteranceFeatures(wave)
        let fromRecipe = try HuBERTEncoder(weights: try HuBERTWeights(recipeFor: config, device: device), ops: ops).utteranceFeatures(wave)
        #expect(fromBundle == fromRecipe && fromBundle.count == 16)

        let stage = try HuBERTFeatureStage(encoder: try HuBERTEncoder(weights: weights, ops: ops))
        #expect(stage.dimension == 24 && stage.rowsPerSecond == 50)
        #expect(throws: MotionModelError.self) {
            try HuBERTWeights(bundle: bundle, component: .init(kind: "log_mel"), device: device)
        }
    }
}
