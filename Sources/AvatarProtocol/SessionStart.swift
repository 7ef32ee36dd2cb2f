public import AvatarFormats
/// The `session.start` message: must be the first message of a session.
public struct SessionStart: Sendable, Equatable, Codable {
    public struct Audio: Sendable, Equatable, Codable {
        public var codec: String
        public var sampleRate: Int
        public var channels: Int

        public init(codec: String = "opus", sampleRate: Int = 48000, channels: Int = 1) {
            self.codec = codec
            self.sampleRate = sampleRate
            self.channels = channels
        }

        enum CodingKeys: String, CodingKey {
            case codec
            case sampleRate = "sample_rate"
            case channels
        }
    }

    public var type: String = "session.start"
    public var avatar: String
    public var output: String
    public var outputOptions: [String: JSONValue]?
    public var audio: Audio
    public var style: String?

    public init(avatar: String, output: String, outputOptions: [String: JSONValue]? = nil,
                audio: Audio = Audio(), style: String? = nil) {
        self.avatar = avatar
        self.output = output
        self.outputOptions = outputOptions
        self.audio = audio
        self.style = style
    }

    enum CodingKeys: String, CodingKey {
        case type, avatar, output
        case outputOptions = "output_options"
        case audio, style
    }

    /// Checks the audio parameters against what protocol v1 supports.
    public func validateAudio() throws(ProtocolViolation) {
        guard audio.codec == "opus" else { throw .unsupported("codec '\(audio.codec)' is not supported; use 'opus'") }
        guard audio.sampleRate == 48000 else {
            throw .unsupported("sample_rate \(audio.sampleRate) is not supported; use 48000")
        }
        guard audio.channels == 1 else { throw .unsupported("channels \(audio.channels) is not supported; use 1") }
    }
}
