import AvatarBundle
import AvatarModels
import AvatarOperators
import AvatarRenderer
import AvatarStages
import Foundation
import Logging

/// Turns bundles into runnable avatars. Each model kind this build can run registers here; a bundle
/// naming any other kind is reported and skipped.
enum AvatarLoader {
    /// Component kinds by manifest role.
    static let supportedKinds = ModelKind.supported

    struct Result {
        var avatars: [any Avatar] = []
        var failures: [String] = []
    }

    static func load(directories: [URL], contexts: [ComputeContext], logger: Logger, rendererPrecision: RendererPrecision = .fp32) -> Result {
        let scan = BundleDirectoryScan(directories: directories, supportedKinds: supportedKinds)
        var result = Result()
        for failure in scan.failures {
            logger.error("avatar bundle skipped", metadata: ["error.message": "\(failure)"])
            result.failures.append(failure.description)
        }
        for bundle in scan.bundles {
            do {
                result.avatars.append(try AvatarFactory.makeAvatar(bundle, contexts: contexts, rendererPrecision: rendererPrecision))
                logger.info("avatar loaded", metadata: ["avatar": "\(bundle.name)", "gpu.replicas": "\(contexts.count)"])
            } catch {
                logger.error("avatar bundle skipped", metadata: ["avatar": "\(bundle.name)", "error.message": "\(error)"])
                result.failures.append("bundle \(bundle.name): \(error)")
            }
        }
        return result
    }

    /// Loads one bundle directory (for `render --avatar DIR` and `bundle verify`).
    static func load(directory: URL, context: ComputeContext, rendererPrecision: RendererPrecision = .fp32) throws -> any Avatar {
        let bundle = try AvatarBundle(directory: directory, supportedKinds: supportedKinds)
        return try AvatarFactory.makeAvatar(bundle, context: context, rendererPrecision: rendererPrecision)
    }
}
