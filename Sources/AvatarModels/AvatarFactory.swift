public import AvatarBundle
public import AvatarOperators
public import AvatarRenderer
public import AvatarStages
import AvatarFace
import AvatarMotion

/// Builds runnable avatars from validated bundles: picks the implementation of each component kind, loads
/// weights onto the context's device and computes the style prompts' features. Any problem is a
/// `BundleError` naming the bundle, so the daemon reports and skips it.
public enum AvatarFactory {
    public static func makeAvatar(_ bundle: AvatarBundle, context: ComputeContext, rendererPrecision: RendererPrecision = .fp32) throws -> any Avatar {
        try makeAvatar(bundle, contexts: [context], rendererPrecision: rendererPrecision)
    }

    /// Loads the models onto every context (device replicas, see `[device] replicas`); sessions are spread
    /// over them. `rendererPrecision`: activations of a MimicTalk renderer (`[device] renderer_precision`).
    public static func makeAvatar(_ bundle: AvatarBundle, contexts: [ComputeContext],
                                  rendererPrecision: RendererPrecision = .fp32) throws -> any Avatar {
        guard let context = contexts.first else { throw BundleError(bundle: bundle.name, "no device to load the avatar on") }
        let manifest = bundle.manifest
        func fail(_ message: String) -> BundleError { BundleError(bundle: bundle.name, message) }
        guard let motionComponent = manifest.motionModel else {
            throw fail("a bundle without a motion_model cannot be driven by audio")
        }
        guard let frontComponent = manifest.audioFrontend else { throw fail("motion_model needs an audio_frontend") }
        do {
            func makeFrontEnd(_ context: ComputeContext) throws -> AudioFrontEnd {
                switch frontComponent.kind {
                case ModelKind.logMel:
                    return .logMel(LogMelFrontEnd(config: try LogMelConfig(manifest: frontComponent.config)))
                case ModelKind.hubert:
                    return .hubert(try HuBERTWeights(bundle: bundle, component: frontComponent, device: context.device), context.ops)
                default:
                    throw fail("audio_frontend.kind '\(frontComponent.kind)' is not runnable by this build")
                }
            }
            let frontEnd = try makeFrontEnd(context)
            let config = try ICSA2MConfig(manifest: motionComponent.config)
            guard config.audioDim == frontEnd.dimension else {
                throw fail("motion_model audio_dim \(config.audioDim) != the audio front-end's \(frontEnd.dimension) features")
            }
            guard let weights = motionComponent.weights.first, let file = bundle.file(weights) else {
                throw fail("motion_model lists no weight file")
            }
            if let names = manifest.motionNames, names.count != config.motionDim {
                throw fail("motion_names lists \(names.count) names, the motion model has \(config.motionDim) dims")
            }
            var eyeMotion: EyeMotionConfig?
            if let object = manifest.eyeMotion {
                guard manifest.renderer?.kind != ModelKind.mimicTalkRenderer else {
                    throw fail("eye_motion drives blink_left, blink_right, eyes_left, eyes_up; a MimicTalk avatar has no such dimensions")
                }
                let names = manifest.motionNames ?? []
                let missing = EyeMotionConfig.motionNames.filter { !names.contains($0) }
                guard missing.isEmpty else { throw fail("eye_motion needs motion_names to include \(missing.joined(separator: ", "))") }
                eyeMotion = try EyeMotionConfig(manifest: object)
            }
            var motionSmoothing: MotionSmoothingConfig?
            if let object = manifest.motionSmoothing {
                guard manifest.renderer?.kind != ModelKind.mimicTalkRenderer else {
                    // Its keypoints and cameras are derived from the unsmoothed expression inside the motion stage.
                    throw fail("motion_smoothing is for avatars whose renderer takes the motion directly; a MimicTalk avatar derives keypoints from the expression")
                }
                let smoothing = try MotionSmoothingConfig(manifest: object)
                let names = manifest.motionNames ?? []
                let missing = smoothing.dimensions.filter { !names.contains($0) }
                guard missing.isEmpty else {
                    throw fail("motion_smoothing dimensions \(missing.joined(separator: ", ")) are not in motion_names")
                }
                if eyeMotion != nil, let driven = smoothing.dimensions.first(where: EyeMotionConfig.motionNames.contains) {
                    throw fail("motion_smoothing dimensions: '\(driven)' is driven by eye_motion, which overrides it after smoothing")
                }
                motionSmoothing = smoothing
            }
            var prompts: [String: StylePrompt] = [:]
            for style in manifest.styles ?? [] {
                guard let file = bundle.file(style.file) else { throw fail("style '\(style.name)': file \(style.file) is not open") }
                let motionView = try file.tensor(style.motionTensor)
                guard motionView.shape.count == 2, motionView.shape[1] == config.motionDim else {
                    throw fail("style '\(style.name)': motion tensor has shape \(motionView.shape), expected [frames, \(config.motionDim)]")
                }
                let frames = motionView.shape[0]
                guard let audioName = style.audioTensor else {
                    throw fail("style '\(style.name)' has no audio_tensor; ICS-A2M prompts need the clip's audio")
                }
                let features = try frontEnd.utteranceRows(try file.tensor(audioName).floats(), rows: 2 * frames)
                let motionValues = motionView.floats()
                guard motionValues.allSatisfy(\.isFinite), features.allSatisfy(\.isFinite) else {
                    throw fail("style '\(style.name)' contains NaN or Inf")
                }
                prompts[style.name] = StylePrompt(motion: motionValues, features: features, frames: frames)
            }
            // The same models on every device replica (the first one's front-end is already loaded).
            let replicas = try contexts.enumerated().map { i, replica in
                let motion = try ICSA2MModel(file: file, config: config, device: replica.device, ops: replica.ops)
                let front = i == 0 ? frontEnd : try makeFrontEnd(replica)
                if manifest.renderer?.kind == ModelKind.mimicTalkRenderer {
                    guard config.motionDim == MimicTalkMotionStage.expressionCount else {
                        throw fail("a MimicTalk renderer needs a motion model of \(MimicTalkMotionStage.expressionCount) expression "
                                   + "coefficients, this one gives \(config.motionDim)")
                    }
                    let face = try MimicTalkFace(bundle: bundle, context: replica, precision: rendererPrecision)
                    return BundleAvatar.Replica(frontEnd: front, motion: motion, makeFrames: { try face.makeFrames(options: $0) }, face: face)
                }
                return BundleAvatar.Replica(frontEnd: front, motion: motion,
                                            makeFrames: try previewFrames(bundle, context: replica, motionNames: manifest.motionNames ?? []))
            }
            return BundleAvatar(manifest: manifest, replicas: replicas, stylePrompts: prompts, silenceRow: try frontEnd.silenceRow(),
                                eyeMotion: eyeMotion, motionSmoothing: motionSmoothing)
        } catch let error as BundleError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    /// The rasterized preview renderer (`renderer.kind` raster_preview over a `face_model` avatard_face), or nil
    /// for a motion-only bundle. Renderer config: `supersampling` (1–4, default 2), `background` ([r, g, b] sRGB).
    static func previewFrames(_ bundle: AvatarBundle, context: ComputeContext, motionNames: [String]) throws
        -> (@Sendable (SessionStageOptions) throws -> any FrameStage)? {
        let manifest = bundle.manifest
        guard let renderer = manifest.renderer else {
            if manifest.faceModel != nil { throw BundleError(bundle: bundle.name, "face_model without a renderer") }
            return nil
        }
        guard renderer.kind == ModelKind.previewRenderer else {
            throw BundleError(bundle: bundle.name, "renderer.kind '\(renderer.kind)' is not runnable by this build")
        }
        guard let faceComponent = manifest.faceModel, faceComponent.kind == ModelKind.faceModel,
              let faceFile = faceComponent.weights.first.flatMap({ bundle.file($0) }) else {
            throw BundleError(bundle: bundle.name, "renderer raster_preview needs a face_model of kind \(ModelKind.faceModel) with one weight file")
        }
        let face = try FaceModel(file: faceFile)
        let config = renderer.config ?? [:]
        let supersampling = config["supersampling"]?.int ?? 2
        guard (1...4).contains(supersampling) else { throw BundleError(bundle: bundle.name, "renderer.config.supersampling must be 1…4") }
        var background: (Float, Float, Float) = (0.80, 0.83, 0.86)
        if case .array(let values)? = config["background"] {
            let rgb = values.compactMap(\.double).map(Float.init)
            guard rgb.count == 3, rgb.allSatisfy({ (0...1).contains($0) }) else {
                throw BundleError(bundle: bundle.name, "renderer.config.background must be three numbers in [0, 1]")
            }
            background = (rgb[0], rgb[1], rgb[2])
        }
        let video = manifest.video
        guard video.width % 8 == 0 else { throw BundleError(bundle: bundle.name, "video.width must be a multiple of 8 for the preview renderer") }
        let shared = try FaceRenderer(face: face, device: context.device, ops: context.ops)
        let bg = background
        return { _ in try FaceRenderPass(renderer: shared, width: video.width, height: video.height, supersampling: supersampling,
                                    motionNames: motionNames, background: bg) }
    }
}
