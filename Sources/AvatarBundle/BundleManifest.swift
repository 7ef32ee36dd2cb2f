public import AvatarFormats
/// `manifest.json` of an avatar bundle, format version 1.
///
/// A bundle is a directory: this manifest plus safetensors weight files. Each model component names its
/// `kind` (which implementation runs it), its weight files, a free-form `config` and optionally the tensors
/// it expects with their shapes, so a bundle can be validated (file, tensor, expected vs found) before any
/// model code touches it. Roles: the audio front-end (HuBERT or log-mel), the motion model (ICS-A2M),
/// the face model (BFM-like 3DMM), the renderer (preview rasterizer or the MimicTalk renderer), per-identity
/// constants, and style clips (in-context motion prompts).
public struct BundleManifest: Sendable, Equatable, Codable {
    public static let formatName = "avatard-bundle"
    public static let supportedVersion = 1

    public struct Video: Sendable, Equatable, Codable {
        public var width: Int
        public var height: Int
        public var fps: Int
        public init(width: Int, height: Int, fps: Int) {
            self.width = width
            self.height = height
            self.fps = fps
        }
    }

    public struct Component: Sendable, Equatable, Codable {
        public var kind: String
        /// Weight files, relative to the bundle directory.
        public var weights: [String]
        public var config: [String: JSONValue]?
        /// Expected tensors: name → shape. Checked at load against the safetensors headers.
        public var tensors: [String: [Int]]?

        public init(kind: String, weights: [String] = [], config: [String: JSONValue]? = nil, tensors: [String: [Int]]? = nil) {
            self.kind = kind
            self.weights = weights
            self.config = config
            self.tensors = tensors
        }
    }

    public struct Style: Sendable, Equatable, Codable {
        public var name: String
        public var description: String?
        /// File holding the clip's tensors.
        public var file: String
        /// Expression track [frames, motion_dim].
        public var motionTensor: String
        /// The clip's audio at 16 kHz [samples] (features are computed at load).
        public var audioTensor: String?

        public init(name: String, description: String? = nil, file: String, motionTensor: String, audioTensor: String? = nil) {
            self.name = name
            self.description = description
            self.file = file
            self.motionTensor = motionTensor
            self.audioTensor = audioTensor
        }

        enum CodingKeys: String, CodingKey {
            case name, description, file
            case motionTensor = "motion_tensor"
            case audioTensor = "audio_tensor"
        }
    }

    public var format: String
    public var version: Int
    public var name: String
    public var description: String?
    public var video: Video
    public var audioFrontend: Component?
    public var motionModel: Component?
    public var faceModel: Component?
    public var renderer: Component?
    public var identity: Component?
    public var styles: [Style]?
    public var defaultStyle: String?
    /// Names of the motion dimensions (CSV header of `--motion-out`).
    public var motionNames: [String]?
    /// Optional per-session eye process (blinks, gaze) that overrides the motion model's `blink_left`, `blink_right`,
    /// `eyes_left`, `eyes_up` (docs/demo-avatar.md §6); its keys are checked where the avatar is built.
    public var eyeMotion: [String: JSONValue]?
    /// Optional per-session low-pass of some motion dimensions (the head pose), `{"dimensions": [...], "time_constant_s": τ}`
    /// (docs/demo-avatar.md §6); checked where the avatar is built.
    public var motionSmoothing: [String: JSONValue]?

    public init(name: String, video: Video) {
        self.format = Self.formatName
        self.version = Self.supportedVersion
        self.name = name
        self.video = video
    }

    enum CodingKeys: String, CodingKey {
        case format, version, name, description, video
        case audioFrontend = "audio_frontend"
        case motionModel = "motion_model"
        case faceModel = "face_model"
        case renderer, identity, styles
        case defaultStyle = "default_style"
        case motionNames = "motion_names"
        case eyeMotion = "eye_motion"
        case motionSmoothing = "motion_smoothing"
    }

    /// Components by role, in pipeline order.
    public var components: [(role: String, component: Component)] {
        var out: [(String, Component)] = []
        if let c = audioFrontend { out.append(("audio_frontend", c)) }
        if let c = motionModel { out.append(("motion_model", c)) }
        if let c = faceModel { out.append(("face_model", c)) }
        if let c = renderer { out.append(("renderer", c)) }
        if let c = identity { out.append(("identity", c)) }
        return out
    }
}
