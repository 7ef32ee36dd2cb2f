import AvatarBundle
import AvatarModels
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// An avatar loaded on two device replicas (two logical devices, each with its own queue and weights) spreads
/// sessions over them, gives a replica back when a session's stages go, and renders the same motion on both.
@Test func sessionsAreSpreadOverDeviceReplicas() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let bundle = try AvatarBundle(directory: root.appendingPathComponent("Avatars/demo"), supportedKinds: ModelKind.supported)
    let contexts = try (0..<2).map { _ in try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil) }
    let avatar = try #require(try AvatarFactory.makeAvatar(bundle, contexts: contexts) as? BundleAvatar)
    #expect(avatar.sessionsPerReplica == [0, 0])

    let options = SessionStageOptions(seed: 7)
    var first: SessionStages? = try avatar.makeStages(options: options)
    let second = try avatar.makeStages(options: options)
    #expect(avatar.sessionsPerReplica == [1, 1])

    // Same seed, same audio: the two replicas produce the same motion (same weights, same kernels).
    let audio: [Float] = (0..<16000).map { i in
        let on: Double = (i / 2000) % 2 == 0 ? 0.3 : 0
        return Float(sin(Double(i) * 0.05) * on)
    }
    func motion(_ stages: SessionStages) throws -> [Float] {
        let rows = try stages.features.append(audio)
        return try (stages.motion.append(rows) + stages.motion.flush()).flatMap(\.coefficients)
    }
    let a = try motion(try #require(first)), b = try motion(second)
    #expect(!a.isEmpty && a == b)

    first = nil
    #expect(avatar.sessionsPerReplica == [0, 1])
    let third = try avatar.makeStages(options: options)
    #expect(avatar.sessionsPerReplica == [1, 1])
    _ = third
}
