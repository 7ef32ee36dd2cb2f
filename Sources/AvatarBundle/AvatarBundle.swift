import AvatarFormats
import Foundation

/// A validated avatar bundle: its manifest and its memory-mapped weight files.
public final class AvatarBundle: Sendable {
    public let directory: URL
    public let manifest: BundleManifest
    /// Weight files by their manifest-relative path.
    public let files: [String: SafeTensorsFile]

    public var name: String { manifest.name }

    /// Loads and validates the bundle in `directory`. `supportedKinds` maps a role to the component kinds
    /// this build of avatard can run; a component of any other kind is rejected with a clear message.
    public init(directory: URL, supportedKinds: [String: Set<String>]) throws(BundleError) {
        self.directory = directory
        let label = directory.lastPathComponent
        let manifestURL = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw BundleError(bundle: label, "cannot read \(manifestURL.path)")
        }
        let manifest: BundleManifest
        do {
            manifest = try JSONDecoder().decode(BundleManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw BundleError(bundle: label, "manifest.json: missing field '\(path)'")
        } catch let DecodingError.typeMismatch(type, context) {
            throw BundleError(bundle: label, "manifest.json: field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' should be \(type)")
        } catch {
            throw BundleError(bundle: label, "manifest.json is not valid: \(error)")
        }
        guard manifest.format == BundleManifest.formatName else {
            throw BundleError(bundle: label, "manifest.json: format is '\(manifest.format)', expected '\(BundleManifest.formatName)'")
        }
        guard manifest.version == BundleManifest.supportedVersion else {
            throw BundleError(bundle: label, "manifest.json: version \(manifest.version) is not supported (this avatard reads version \(BundleManifest.supportedVersion))")
        }
        guard !manifest.name.isEmpty, manifest.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw BundleError(bundle: label, "manifest.json: name '\(manifest.name)' may only use letters, digits, '-' and '_'")
        }
        guard (16...4096).contains(manifest.video.width), (16...4096).contains(manifest.video.height),
              manifest.video.width % 2 == 0, manifest.video.height % 2 == 0, (1...120).contains(manifest.video.fps) else {
            throw BundleError(bundle: label, "manifest.json: video \(manifest.video.width)x\(manifest.video.height)@\(manifest.video.fps) is out of range (even sizes 16–4096, 1–120 fps)")
        }
        guard manifest.motionModel != nil || manifest.renderer != nil else {
            throw BundleError(bundle: label, "manifest.json: a bundle needs at least a motion_model or a renderer")
        }

        var files: [String: SafeTensorsFile] = [:]
        func open(_ relative: String) throws(BundleError) -> SafeTensorsFile {
            if let f = files[relative] { return f }
            guard !relative.hasPrefix("/"), !relative.split(separator: "/").contains("..") else {
                throw BundleError(bundle: label, "weight path '\(relative)' must stay inside the bundle")
            }
            do {
                let f = try SafeTensorsFile(url: directory.appendingPathComponent(relative))
                files[relative] = f
                return f
            } catch {
                throw BundleError(bundle: label, error.description)
            }
        }

        for (role, component) in manifest.components {
            if let kinds = supportedKinds[role], !kinds.contains(component.kind) {
                throw BundleError(bundle: label, "\(role).kind '\(component.kind)' is not supported (known: \(kinds.sorted().joined(separator: ", ")))")
            }
            if supportedKinds[role] == nil {
                throw BundleError(bundle: label, "\(role).kind '\(component.kind)' is not supported by this build")
            }
            var opened: [SafeTensorsFile] = []
            for w in component.weights { opened.append(try open(w)) }
            for (tensor, shape) in (component.tensors ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let file = opened.first(where: { $0.tensors[tensor] != nil }) else {
                    throw BundleError(bundle: label, "\(role): tensor '\(tensor)' is in none of \(component.weights.joined(separator: ", "))")
                }
                let found = file.tensors[tensor]!.shape
                guard found == shape else {
                    throw BundleError(bundle: label, "\(file.url.lastPathComponent): tensor '\(tensor)' has shape \(found), expected \(shape)")
                }
            }
        }

        var styleNames: Set<String> = []
        for style in manifest.styles ?? [] {
            guard styleNames.insert(style.name).inserted else {
                throw BundleError(bundle: label, "style '\(style.name)' is defined twice")
            }
            let file = try open(style.file)
            guard let motion = file.tensors[style.motionTensor] else {
                throw BundleError(bundle: label, "\(style.file): style '\(style.name)' motion tensor '\(style.motionTensor)' is missing")
            }
            guard motion.shape.count == 2, motion.shape[0] > 0 else {
                throw BundleError(bundle: label, "\(style.file): style '\(style.name)' motion tensor '\(style.motionTensor)' has shape \(motion.shape), expected [frames, dims]")
            }
            if let names = manifest.motionNames, names.count != motion.shape[1] {
                throw BundleError(bundle: label, "\(style.file): style '\(style.name)' has \(motion.shape[1]) motion dims, motion_names lists \(names.count)")
            }
            if let audioName = style.audioTensor {
                guard let audio = file.tensors[audioName] else {
                    throw BundleError(bundle: label, "\(style.file): style '\(style.name)' audio tensor '\(audioName)' is missing")
                }
                // 16 kHz audio for `frames` frames at the bundle's fps, within one frame.
                let expected = motion.shape[0] * 16000 / manifest.video.fps
                let slack = 16000 / manifest.video.fps
                guard audio.shape.count == 1, abs(audio.shape[0] - expected) <= slack else {
                    throw BundleError(bundle: label, "\(style.file): style '\(style.name)' audio '\(audioName)' has shape \(audio.shape), expected about [\(expected)] (\(motion.shape[0]) frames at \(manifest.video.fps) fps, 16 kHz)")
                }
            }
        }
        if let d = manifest.defaultStyle, !styleNames.contains(d) {
            throw BundleError(bundle: label, "default_style '\(d)' is not among the styles")
        }
        self.manifest = manifest
        self.files = files
    }

    /// The weight file at a manifest-relative path (already opened and validated).
    public func file(_ relative: String) -> SafeTensorsFile? { files[relative] }

    public var styleNames: [String] { (manifest.styles ?? []).map(\.name) }
}
