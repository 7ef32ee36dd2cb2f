/// Building, starting, feeding or finishing an output pipeline failed.
public enum OutputError: Error, Sendable, Equatable, CustomStringConvertible {
    case parse(String)
    case forbiddenElement(factory: String, element: String)
    case missingEntry(String)
    case link(String)
    case invalidFormat(String)
    case stateChange(String)
    case push(String)
    /// A bus ERROR (the pipeline is dead; the session reports `output_failed`).
    case failed(String)
    /// A push after `finish()` or `abort()`.
    case finished
    case finalizeTimeout

    public var description: String {
        switch self {
        case .parse(let m): "pipeline description does not parse: \(m)"
        case let .forbiddenElement(factory, element): "element '\(element)' (\(factory)) is not allowed in output presets"
        case .missingEntry(let name): "the pipeline description needs an element named '\(name)' (entry of the \(name) branch)"
        case .link(let m): "cannot link: \(m)"
        case .invalidFormat(let m): "unsupported video format: \(m)"
        case .stateChange(let m): "pipeline did not start: \(m)"
        case .push(let m): "cannot push into the pipeline: \(m)"
        case .failed(let m): m
        case .finished: "the output was already finished or aborted"
        case .finalizeTimeout: "the pipeline did not finish (EOS) in time; the file may be incomplete"
        }
    }
}
