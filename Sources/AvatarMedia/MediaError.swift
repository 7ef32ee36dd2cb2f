/// Reading or inspecting a media file failed.
public enum MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingFile(String)
    case pipeline(String)
    case decode(String)
    /// The file decodes but has no audio stream.
    case noAudio(String)

    public var description: String {
        switch self {
        case .missingFile(let p): "\(p): no such file"
        case .pipeline(let m): "cannot build the decoding pipeline: \(m)"
        case .decode(let m): "cannot decode: \(m)"
        case .noAudio(let p): "\(p): no audio stream"
        }
    }
}
