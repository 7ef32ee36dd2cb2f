import ArgumentParser
import AvatarBundle
import AvatarConfig
import AvatarFormats
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation

/// `avatard renderer …`: the MimicTalk renderer outside a session, for verification against upstream.
struct RendererCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renderer", abstract: "Run the MimicTalk renderer of a bundle outside a session.", subcommands: [Frame.self])

    /// `avatard renderer frame`: one frame from `.npy` inputs, written as `.npy` (docs/renderer.md §6).
    struct Frame: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render one frame from .npy inputs (compare with tools/reference/renderer_frame.py).",
            discussion: """
            --inputs DIR holds little-endian float32 C-order .npy files: cond_cano, cond_src, cond_tgt, ref_torso_img, \
            bg_img [1,3,S,S]; segmap [1,6,S,S]; kp_s, kp_d [1,68,3]; camera [1,25]; optionally rand_stratified \
            [1,R²,Nc,1] and rand_importance [R²,Nf] (uniform draws, ray m = row·R + column; drawn from --seed when absent). \
            kp_s may be left out when the bundle's identity has src_kp. --out gets the image [1,3,S,S] in [-1,1]; \
            --dump DIR the intermediates (planes, feature/weights/depth images, torso and person alpha, sr_image before \
            the clamp) and the draws used.
            """)

        @Option(name: .long, help: "Avatar name (from the config's avatars directory) or bundle directory.") var avatar: String
        @Option(name: .long, help: "Directory of .npy inputs.") var inputs: String
        @Option(name: .long, help: "Output .npy file (the final image).") var out: String
        @Option(name: .long, help: "Directory for the intermediates.") var dump: String?
        @Option(name: .long, help: "Seed of the draws not given in --inputs.") var seed: UInt64 = 0
        @Flag(name: .long, help: "fp16 activations (fp32 arithmetic; default: [device] renderer_precision of --config, else fp32).")
        var fp16 = false
        @Option(name: .long, help: "Configuration file (for avatar names).") var config: String?
        @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
        @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"

        func run() async throws {
            do {
                let bundle = try RendererCommand.bundle(avatar, configPath: config)
                let dev = try VulkanDevice(requirement: try DeviceRequirement(parsing: require, index: device), fenceTimeout: .seconds(900))
                let configured = try ConfigFile.load(config).device.rendererPrecision
                let precision: RendererPrecision = fp16 ? .fp16 : RendererPrecision(rawValue: configured) ?? .fp32
                let renderer = try MimicTalkRenderer(bundle: bundle, device: dev, ops: Operators(library: ShaderLibrary(device: dev)),
                                                     precision: precision)
                let values = try renderer.readInputs(URL(fileURLWithPath: inputs))
                let start = Date()
                let frame = try renderer.frame(values, seed: seed, dumps: dump != nil)
                let seconds = Date().timeIntervalSince(start)
                let shapes = renderer.outputShapes
                try NumpyArray(shape: shapes["image"]!, values: frame["image"]!).write(to: URL(fileURLWithPath: out))
                if let dump {
                    let dir = URL(fileURLWithPath: dump)
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    for (name, values) in frame.sorted(by: { $0.key < $1.key }) {
                        try NumpyArray(shape: shapes[name]!, values: values).write(to: dir.appendingPathComponent(name + ".npy"))
                    }
                }
                FileHandle.standardError.write(Data("avatard: wrote \(out) (\(bundle.name), \(renderer.config.img)² frame in \(String(format: "%.2f", seconds)) s, \(precision.rawValue), on \(dev.info.name))\n".utf8))
            } catch let error as ExitCode {
                throw error
            } catch {
                FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    /// A bundle directory, or the bundle named so in the configured avatars directory.
    static func bundle(_ nameOrPath: String, configPath: String?) throws -> AvatarBundle {
        var isDirectory: ObjCBool = false
        if nameOrPath.contains("/") || FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory) && isDirectory.boolValue {
            return try AvatarBundle(directory: URL(fileURLWithPath: nameOrPath), supportedKinds: AvatarLoader.supportedKinds)
        }
        let config = try ConfigFile.load(configPath)
        var directories: [URL] = []
        if let d = config.avatarsDirectory { directories.append(URL(fileURLWithPath: d)) }
        if config.builtinAvatars, let builtin = DataPaths.builtinAvatars { directories.append(builtin) }
        let scan = BundleDirectoryScan(directories: directories, supportedKinds: AvatarLoader.supportedKinds)
        guard let bundle = scan.bundles.first(where: { $0.name == nameOrPath }) else {
            throw ValidationErrorMessage("no avatar bundle named '\(nameOrPath)' (found: \(scan.bundles.map(\.name).joined(separator: ", "))); pass a bundle directory")
        }
        return bundle
    }
}
