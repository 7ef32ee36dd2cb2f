public import AvatarFace
public import AvatarFormats
public import AvatarRenderer
public import AvatarStages

/// The frame stage of a MimicTalk avatar: the SECC map of the frame's expression, the renderer at the bundle's
/// size with the avatar's identity constants, and the image → 8-bit RGB (upstream's `((x + 1) / 2 · 255)` truncated)
/// → I420. Consumes the coefficients `MimicTalkMotionStage` emits.
///
/// `cond_src` is the SECC of the first expression the session renders (upstream: the utterance's first predicted
/// frame; a live session keeps one source for its whole life, so the picture does not jump between utterances).
/// Upstream's first-face quirk (face 0 → background on the first frame of every 50-frame raster chunk) applies to
/// the driving maps in full-window mode only, where the output must equal upstream's; cano and src always carry it,
/// as they do upstream.
public final class MimicTalkFrameStage: FrameStage {
    public let width: Int
    public let height: Int
    let renderer: MimicTalkRenderer
    let secc: SECCPass
    let constants: [String: [Float]]
    let fullWindow: Bool
    let seed: UInt64
    private var source: [Float]?
    private var rendered: I420Frame?

    /// `constants`: the per-identity renderer inputs (cond_cano, ref_torso_img, bg_img, segmap).
    public init(renderer: MimicTalkRenderer, secc: SECCPass, constants: [String: [Float]], fullWindow: Bool, seed: UInt64) throws {
        // Checked and written once, not per frame.
        try renderer.setFixedInputs(constants)
        self.renderer = renderer
        self.secc = secc
        self.constants = constants
        self.fullWindow = fullWindow
        self.seed = seed
        width = renderer.config.img
        height = renderer.config.img
    }

    public func submit(_ motion: MotionFrame) throws {
        rendered = Self.i420(image: try image(motion), width: width, height: height)
    }

    /// The renderer's image of one motion frame: [3, S, S] in [-1, 1] (after the clamp), before 8-bit conversion.
    public func image(_ motion: MotionFrame) throws -> [Float] {
        let e = MimicTalkMotionStage.expressionCount, k = MimicTalkMotionStage.keypointValues
        guard motion.coefficients.count == MimicTalkMotionStage.dimension else {
            throw RendererError("MimicTalk frame: \(motion.coefficients.count) motion values, expected \(MimicTalkMotionStage.dimension)")
        }
        guard motion.isFinite else { throw RendererError("MimicTalk frame \(motion.index): the motion contains NaN or Inf") }
        let exp = Array(motion.coefficients[0..<e])
        if source == nil {
            let src = try secc.render(exp: exp, firstFaceQuirk: true)
            source = src
            try renderer.setFixedInputs(constants.merging(["cond_src": src]) { $1 })
        }
        var inputs: [String: [Float]] = [:]
        inputs["cond_tgt"] = try secc.render(exp: exp, firstFaceQuirk: fullWindow && motion.index % 50 == 0)
        var kp = [Float](repeating: 0, count: 68 * 3)
        for p in 0..<68 {
            kp[3 * p] = motion.coefficients[e + 2 * p]
            kp[3 * p + 1] = motion.coefficients[e + 2 * p + 1]
        }
        inputs["kp_d"] = kp
        inputs["camera"] = Array(motion.coefficients[(e + k)...])
        return try renderer.frame(inputs, seed: Self.drawSeed(session: seed, frame: motion.index))["image"]!
    }

    /// The seed of a frame's NeRF draws (`MimicTalkRenderer.frame`: stratified from it, importance from it + 1): the
    /// same session seed and frame give the same picture.
    public static func drawSeed(session: UInt64, frame: Int) -> UInt64 {
        session &+ UInt64(truncatingIfNeeded: frame) &* 0x9E37_79B9_7F4A_7C15
    }

    public func complete() throws -> I420Frame {
        guard let frame = rendered else { throw RendererError("MimicTalk frame: complete() without submit()") }
        rendered = nil
        return frame
    }

    /// [3, H, W] in [-1, 1] → 8 bits as upstream writes its video (truncation), then BT.601 I420.
    static func i420(image: [Float], width: Int, height: Int) -> I420Frame {
        let plane = width * height
        var rgba = [UInt8](repeating: 255, count: plane * 4)
        for c in 0..<3 {
            for i in 0..<plane {
                let v = (image[c * plane + i] + 1) / 2 * 255
                rgba[4 * i + c] = UInt8(max(0, min(255, v)).rounded(.towardZero))
            }
        }
        return I420Frame(rgba: rgba, width: width, height: height)
    }
}
