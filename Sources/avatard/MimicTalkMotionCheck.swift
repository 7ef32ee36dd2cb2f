import AvatarBundle
import AvatarModels
import AvatarMotion
import AvatarOperators

/// `bundle verify` for a MimicTalk bundle's motion side: loads the audio front-end and the ICS-A2M on the device,
/// checks that they fit each other and the face model, and computes every style clip's features from its audio,
/// as building a session would. Any problem is a `BundleError` naming the bundle, the role and the tensor.
enum MimicTalkMotionCheck {
    static func run(_ bundle: AvatarBundle, context: ComputeContext) throws -> String {
        let m = bundle.manifest
        func fail(_ message: String) -> BundleError { BundleError(bundle: bundle.name, message) }
        guard let motion = m.motionModel, let front = m.audioFrontend else { throw fail("motion_model needs an audio_frontend") }
        let config = try ICSA2MConfig(manifest: motion.config)
        guard let name = motion.weights.first, let file = bundle.file(name) else { throw fail("motion_model lists no weight file") }
        _ = try ICSA2MModel(file: file, config: config, device: context.device, ops: context.ops)
        if let face = m.faceModel {
            guard let faceFile = face.weights.first.flatMap({ bundle.file($0) }), let basis = faceFile.tensors["exp_basis"] else {
                throw fail("face_model: no weight file with 'exp_basis'")
            }
            guard basis.shape.count == 2, basis.shape[1] == config.motionDim else {
                throw fail("face_model exp_basis has shape \(basis.shape); the motion model predicts \(config.motionDim) expression coefficients")
            }
        }
        var encoder: HuBERTEncoder?
        switch front.kind {
        case ModelKind.hubert:
            let weights = try HuBERTWeights(bundle: bundle, component: front, device: context.device)
            guard weights.config.hiddenSize == config.audioDim else {
                throw fail("audio_frontend hidden_size \(weights.config.hiddenSize) != motion_model audio_dim \(config.audioDim)")
            }
            encoder = HuBERTEncoder(weights: weights, ops: context.ops)
        case ModelKind.logMel:
            let mel = try LogMelConfig(manifest: front.config)
            guard mel.melBands == config.audioDim else { throw fail("log-mel n_mels \(mel.melBands) != motion_model audio_dim \(config.audioDim)") }
        default:
            throw fail("audio_frontend.kind '\(front.kind)' is not runnable by this build")
        }
        var clips: [String] = []
        for style in m.styles ?? [] {
            guard let styleFile = bundle.file(style.file) else { throw fail("style '\(style.name)': file \(style.file) is not open") }
            let frames = try styleFile.tensor(style.motionTensor).shape[0]
            if let encoder, let audio = style.audioTensor {
                let rows = try encoder.utteranceFeatures(try styleFile.tensor(audio).floats(), padded: true)
                guard rows.values.allSatisfy(\.isFinite) else { throw fail("style '\(style.name)': features contain NaN or Inf") }
                guard rows.values.count / rows.dimension + 1 >= 2 * frames else {
                    throw fail("style '\(style.name)': \(rows.values.count / rows.dimension) feature rows for \(frames) frames (needs \(2 * frames))")
                }
            }
            clips.append("\(style.name) (\(frames) frames)")
        }
        return "motion: ICS-A2M \(config.motionDim)-d from \(config.audioDim)-d \(front.kind) features loaded"
            + (clips.isEmpty ? "" : "; style features computed for \(clips.joined(separator: ", "))")
    }
}
