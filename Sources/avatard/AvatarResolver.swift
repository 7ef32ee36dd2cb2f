import AvatarConfig
import AvatarOperators
import AvatarPipeline
import AvatarRenderer
import AvatarStages
import Foundation
import Logging

/// Finds an avatar by loaded name (config directory and built-ins) or by bundle directory path.
enum AvatarResolver {
    static func resolve(_ nameOrPath: String, config: DaemonConfig, context: ComputeContext, logger: Logger) throws -> any Avatar {
        var isDirectory: ObjCBool = false
        if nameOrPath.contains("/") || FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory) && isDirectory.boolValue {
            return try AvatarLoader.load(directory: URL(fileURLWithPath: nameOrPath), context: context,
                                         rendererPrecision: RendererPrecision(rawValue: config.device.rendererPrecision) ?? .fp32)
        }
        var directories: [URL] = []
        if let d = config.avatarsDirectory { directories.append(URL(fileURLWithPath: d)) }
        if config.builtinAvatars, let builtin = DataPaths.builtinAvatars { directories.append(builtin) }
        let loaded = AvatarLoader.load(directories: directories, contexts: [context], logger: logger,
                                       rendererPrecision: RendererPrecision(rawValue: config.device.rendererPrecision) ?? .fp32)
        let variants = PoseVariantAvatar.make(config.avatarVariants, of: loaded.avatars)
        let avatars = loaded.avatars + variants.avatars
        guard let avatar = avatars.first(where: { $0.name == nameOrPath }) else {
            // A configured variant that could not be made: say why.
            if let problem = variants.problems.first(where: { $0.contains("avatars.variants.\(nameOrPath).") }) {
                throw ValidationErrorMessage(problem)
            }
            let names = avatars.map(\.name)
            throw ValidationErrorMessage("no avatar named '\(nameOrPath)' (loaded: \(names.isEmpty ? "none" : names.joined(separator: ", "))); pass a bundle directory to use one directly")
        }
        return avatar
    }
}

/// A plain error with a message for the command line.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
