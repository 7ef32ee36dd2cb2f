public import AvatarBundle

/// An in-context style prompt: an expression track [frames, motion_dim] and the front-end's feature rows of
/// its audio [2·frames, audio_dim] (computed once, when the avatar loads; shared read-only by its sessions).
public struct StylePrompt: Sendable, Equatable {
    public var motion: [Float]
    public var features: [Float]
    public var frames: Int

    public init(motion: [Float], features: [Float], frames: Int) {
        self.motion = motion
        self.features = features
        self.frames = frames
    }

    public static let none = StylePrompt(motion: [], features: [], frames: 0)

    /// The bundle style `style` (manifest `styles[]`: `motion_tensor` [frames, motion_dim] and `audio_tensor`,
    /// 16 kHz mono) with its log-mel rows: exactly 2 rows per motion frame, the audio zero-padded at the end
    /// when it is shorter than the frames need (as a session's final flush pads).
    public init(bundle: AvatarBundle, style: String, model: ICSA2MModel, frontEnd: LogMelFrontEnd) throws {
        func fail(_ message: String) -> MotionModelError { MotionModelError("style '\(style)'", message) }
        guard let entry = (bundle.manifest.styles ?? []).first(where: { $0.name == style }) else {
            throw fail("bundle '\(bundle.name)' has no such style (styles: \(bundle.styleNames))")
        }
        guard let file = bundle.file(entry.file) else { throw fail("file \(entry.file) is not open") }
        let m = model.config.motionDim, a = model.config.audioDim
        guard frontEnd.config.melBands == a else {
            throw fail("the front-end gives \(frontEnd.config.melBands)-wide rows, the motion model reads \(a)")
        }
        let motionView = try file.tensor(entry.motionTensor)
        guard motionView.shape.count == 2, motionView.shape[1] == m, motionView.shape[0] > 0 else {
            throw fail("tensor '\(entry.motionTensor)' has shape \(motionView.shape), expected [frames, \(m)]")
        }
        guard let audioName = entry.audioTensor else {
            throw fail("no audio_tensor: ICS-A2M prompts need the clip's audio for their feature rows")
        }
        let frames = motionView.shape[0]
        var audio = try file.tensor(audioName).floats()
        let c = frontEnd.config
        let needed = (2 * frames - 1) * c.hopLength + c.windowLength
        if audio.count < needed { audio += [Float](repeating: 0, count: needed - audio.count) }
        let features = frontEnd.features(Array(audio.prefix(needed)))
        let motion = motionView.floats()
        guard features.count == 2 * frames * a else {
            throw fail("audio gave \(features.count / a) feature rows, expected \(2 * frames)")
        }
        guard motion.allSatisfy(\.isFinite), features.allSatisfy(\.isFinite) else {
            throw fail("motion or audio contains NaN or Inf")
        }
        self.init(motion: motion, features: features, frames: frames)
    }
}
