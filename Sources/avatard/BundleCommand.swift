import ArgumentParser
import AvatarBundle
import AvatarConfig
import AvatarModels
import AvatarRenderer
import Foundation

struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle", abstract: "Work with avatar bundles.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a bundle: manifest, weight files, tensor shapes, style clips, and that this build can run it.")

        @Argument(help: "Bundle directory (contains manifest.json).")
        var directory: String

        func run() async throws {
            let url = URL(fileURLWithPath: directory)
            do {
                let bundle = try AvatarBundle(directory: url, supportedKinds: AvatarLoader.supportedKinds)
                let m = bundle.manifest
                print("bundle \(m.name): format \(m.format) v\(m.version), video \(m.video.width)x\(m.video.height)@\(m.video.fps)")
                for (role, component) in m.components {
                    let tensors = component.weights.compactMap { bundle.file($0) }.reduce(0) { $0 + $1.tensors.count }
                    print("  \(role): \(component.kind) (\(component.weights.joined(separator: ", ")); \(tensors) tensors)")
                }
                for style in m.styles ?? [] { print("  style \(style.name)\(style.name == m.defaultStyle ? " (default)" : "")") }
                let compute = try DaemonSetup.openDevice(config: DaemonConfig())
                if m.renderer?.kind == ModelKind.mimicTalkRenderer {
                    // Planning the frame graph binds every renderer tensor by name and checks its shape.
                    let renderer = try MimicTalkRenderer(bundle: bundle, device: compute.device, ops: compute.ops)
                    let c = renderer.config
                    print("  MimicTalk renderer: \(c.img)² output, NeRF \(c.nerfRes)² × \(c.samplesCoarse)+\(c.samplesFine) samples, "
                          + "\(c.trigrid ? "trigrid D=\(c.depth)" : "tri-plane"), torso input \(c.torsoIn); frame graph planned")
                    if m.motionModel == nil {
                        print("ok (renderer only: `avatard renderer frame` renders it; sessions also need audio_frontend and motion_model)")
                        return
                    }
                    _ = try AvatarFactory.makeAvatar(bundle, context: compute)
                    print("ok (MimicTalk avatar: front-end, motion model, style clips, face model, SECC and renderer loaded and planned)")
                    return
                }
                // Building the avatar loads every model on the device: shapes, style clips and the first plan.
                _ = try AvatarFactory.makeAvatar(bundle, context: compute)
                print("ok")
            } catch {
                FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
