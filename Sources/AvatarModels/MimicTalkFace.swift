public import AvatarBundle
public import AvatarFace
public import AvatarOperators
public import AvatarRenderer
public import AvatarStages
import AvatarFormats

/// The face half of a MimicTalk avatar on one device, shared read-only by its sessions: the BFM face model's
/// SECC data, the renderer's weights, the identity constants (reference torso, background, segmentation, the
/// canonical SECC map) and the pose source. Sessions get their own `MimicTalkFrameStage` (renderer graph and
/// SECC pass) and wrap their motion stage in a `MimicTalkMotionStage`.
public final class MimicTalkFace: Sendable {
    public let config: RendererConfig
    let ops: Operators
    let weights: WeightStore
    let identity: [String: [Float]]
    let constants: [String: [Float]]
    /// The renderer's identity graph outputs for `constants`, computed once at load and shared by the sessions.
    let identityOutputs: [String: [Float]]
    let secc: SECCRenderer
    let keypoints: TorsoKeypoints
    public let poses: PoseSource

    /// Identity tensors the session stage reads (besides the renderer's gt_img, id, src_kp).
    static let constantNames = ["ref_torso_img", "bg_img", "segmap"]

    public let precision: RendererPrecision

    public init(bundle: AvatarBundle, context: ComputeContext, precision: RendererPrecision = .fp32) throws {
        func fail(_ message: String) -> BundleError { BundleError(bundle: bundle.name, message) }
        let manifest = bundle.manifest
        guard let component = manifest.renderer, component.kind == ModelKind.mimicTalkRenderer else {
            throw fail("no renderer of kind \(ModelKind.mimicTalkRenderer)")
        }
        guard let faceComponent = manifest.faceModel, faceComponent.kind == BFMFaceModel.kind, faceComponent.weights.count == 1,
              let faceFile = bundle.file(faceComponent.weights[0]) else {
            throw fail("renderer \(ModelKind.mimicTalkRenderer) needs a face_model of kind \(BFMFaceModel.kind) (`convert.py mimictalk`) "
                       + "with one weight file")
        }
        guard let person = manifest.identity, person.weights.count == 1, let identityFile = bundle.file(person.weights[0]) else {
            throw fail("renderer \(ModelKind.mimicTalkRenderer) needs an identity (kind \(ModelKind.mimicTalkPerson)) with one weight file")
        }
        guard component.weights.count == 1, let rendererFile = bundle.file(component.weights[0]) else {
            throw fail("renderer.weights must name one safetensors file of the bundle, found \(component.weights)")
        }
        let config = try RendererConfig(manifest: component.config)
        let s = config.img
        guard manifest.video.width == s, manifest.video.height == s else {
            throw fail("video is \(manifest.video.width)×\(manifest.video.height), the renderer makes \(s)×\(s) frames")
        }
        // MimicTalk's motion runs at 25 fps: two 50 Hz HuBERT rows per frame.
        guard manifest.video.fps == 25 else { throw fail("video.fps is \(manifest.video.fps); a MimicTalk avatar runs at 25 fps") }
        let face = try BFMFaceModel(file: faceFile)
        guard face.expCount == MimicTalkMotionStage.expressionCount, face.idCount == 80 else {
            throw fail("face_model has \(face.idCount) identity and \(face.expCount) expression bases; MimicTalk needs 80 and "
                       + "\(MimicTalkMotionStage.expressionCount)")
        }
        var identity: [String: [Float]] = [:]
        let shapes = ["gt_img": [1, 3, s, s], "id": [1, 80], "src_kp": [68, 3], "ref_torso_img": [1, 3, s, s],
                      "bg_img": [1, 3, s, s], "segmap": [1, 6, s, s], "ref_euler": [3], "ref_trans": [3]]
        for (name, shape) in shapes {
            guard identityFile.tensors[name] != nil else {
                throw fail("identity \(person.weights[0]) has no tensor \(name) \(shape) (convert with `convert.py mimictalk`)")
            }
            let values = try identityFile.tensor(name, shape: shape).floats()
            guard values.allSatisfy(\.isFinite) else { throw fail("identity tensor \(name) contains NaN or Inf") }
            identity[name] = values
        }
        let reference = try HeadPose(euler: identity["ref_euler"]!, trans: identity["ref_trans"]!)
        let mode = person.config?["pose"]?.string ?? "static"
        switch mode {
        case "static":
            poses = .static(reference)
        case "track":
            guard let euler = identityFile.tensors["pose_euler"], let trans = identityFile.tensors["pose_trans"],
                  euler.shape.count == 2, euler.shape[1] == 3, trans.shape == euler.shape, euler.shape[0] > 0 else {
                let found = ["pose_euler", "pose_trans"].map { "\($0) \(identityFile.tensors[$0].map { "\($0.shape)" } ?? "missing")" }
                throw fail("identity.config.pose is track: pose_euler and pose_trans [L, 3] (L ≥ 1) are required; found "
                           + found.joined(separator: ", "))
            }
            let e = try identityFile.tensor("pose_euler", shape: euler.shape).floats()
            let t = try identityFile.tensor("pose_trans", shape: trans.shape).floats()
            for (name, values) in [("pose_euler", e), ("pose_trans", t)] where !values.allSatisfy(\.isFinite) {
                throw fail("identity tensor \(name) contains NaN or Inf")
            }
            let track = try (0..<euler.shape[0]).map { try HeadPose(euler: Array(e[3 * $0..<3 * $0 + 3]), trans: Array(t[3 * $0..<3 * $0 + 3])) }
            poses = try .track(track, reference: reference)
        default:
            throw fail("identity.config.pose '\(mode)' is not static or track")
        }
        let id = identity["id"]!
        self.config = config
        self.precision = precision
        ops = context.ops
        weights = try WeightStore(file: rendererFile, device: context.device)
        keypoints = try TorsoKeypoints(face: face, identity: id)
        secc = try SECCRenderer(face: face, identity: id, size: s, device: context.device, ops: context.ops)
        var constants: [String: [Float]] = [:]
        for name in Self.constantNames { constants[name] = identity[name] }
        constants["cond_cano"] = try SECCPass(renderer: secc).render(exp: [Float](repeating: 0, count: MimicTalkMotionStage.expressionCount),
                                                                    firstFaceQuirk: true)
        self.constants = constants
        let rendererIdentity = identity.filter { ["gt_img", "id", "src_kp"].contains($0.key) }
        self.identity = rendererIdentity
        // Plan once at load, so every tensor's name and shape is checked before a session needs it, and run the
        // identity graph (torso appearance, background encoder) once for all sessions.
        let first = MimicTalkRenderer(config: config, weights: weights, identity: rendererIdentity, ops: ops, precision: precision)
        try first.prepare()
        identityOutputs = try first.identityValues(for: constants)
    }

    func makeRenderer() throws -> MimicTalkRenderer {
        let renderer = MimicTalkRenderer(config: config, weights: weights, identity: identity, ops: ops, precision: precision)
        try renderer.prepare()
        renderer.adoptIdentity(inputs: constants, outputs: identityOutputs)
        return renderer
    }

    /// A session's frame stage.
    public func makeFrames(options: SessionStageOptions) throws -> any FrameStage {
        try MimicTalkFrameStage(renderer: try makeRenderer(), secc: try SECCPass(renderer: secc), constants: constants,
                            fullWindow: options.fullWindow, seed: options.seed)
    }

    /// Why a session cannot take `pose` (an explicit track on an avatar converted without one), or nil.
    public func poseRefusal(_ pose: SessionPose) -> String? {
        guard pose == .track, poses.track.isEmpty else { return nil }
        return "has no pose track (converted with --pose-static or without --pose)"
    }

    /// The pose source a session with `pose` uses.
    public func poseSource(_ pose: SessionPose) throws -> PoseSource {
        if let refusal = poseRefusal(pose) { throw FaceModelError("the avatar \(refusal)") }
        switch pose {
        case .avatar, .track: return poses
        case .reference: return .static(poses.reference)
        case .fixed(let euler, let trans): return .static(try HeadPose(euler: euler, trans: trans))
        }
    }

    /// A session's motion stage around the model's expression stage.
    public func wrap(_ motion: any MotionStage, options: SessionStageOptions, padRowsMultiple: Int) throws -> any MotionStage {
        MimicTalkMotionStage(inner: motion, keypoints: keypoints, poses: try poseSource(options.pose), fullWindow: options.fullWindow,
                             padRowsMultiple: padRowsMultiple)
    }
}
