import AvatarBundle
import AvatarStages
import Foundation
import Logging

/// Turns bundles into runnable avatars. Each model kind this build can run registers here; a bundle
/// naming any other kind is reported and skipped.
enum AvatarLoader {
    /// Component kinds by manifest role.
    static let supportedKinds: [String: Set<String>] = [
        "audio_frontend": [],
        "motion_model": [],
        "face_model": [],
        "renderer": [],
        "identity": [],
    ]

    struct Result {
        var avatars: [any Avatar] = []
        var failures: [String] = []
    }

    static func load(directories: [URL], logger: Logger) -> Result {
        let scan = BundleDirectoryScan(directories: directories, supportedKinds: supportedKinds)
        var result = Result()
        for failure in scan.failures {
            logger.error("avatar bundle skipped", metadata: ["error.message": "\(failure)"])
            result.failures.append(failure.description)
        }
        for bundle in scan.bundles {
            do {
                result.avatars.append(try makeAvatar(bundle))
                logger.info("avatar loaded", metadata: ["avatar": "\(bundle.name)"])
            } catch {
                logger.error("avatar bundle skipped", metadata: ["avatar": "\(bundle.name)", "error.message": "\(error)"])
                result.failures.append("bundle \(bundle.name): \(error)")
            }
        }
        return result
    }

    /// Loads one bundle directory (for `render --avatar DIR` and `bundle verify`).
    static func load(directory: URL) throws -> any Avatar {
        let bundle = try AvatarBundle(directory: directory, supportedKinds: supportedKinds)
        return try makeAvatar(bundle)
    }

    static func makeAvatar(_ bundle: AvatarBundle) throws -> any Avatar {
        throw BundleError(bundle: bundle.name, "no model implementation in this build runs this bundle's components")
    }
}
