/// An ERROR posted on an output pipeline's bus while it ran (sink failure, disk full, encoder error, …).
/// The session turns it into close code 4004 `output_failed`; only that session ends.
public struct OutputFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Name of the element that posted the error (e.g. `filesink0`), or "pipeline".
    public var element: String
    /// GStreamer's message (e.g. "Could not open file \"/x/y.mp4\" for writing.").
    public var message: String
    /// GStreamer's debug detail (file, function, errno text); may be empty.
    public var debug: String

    public init(element: String, message: String, debug: String = "") {
        self.element = element
        self.message = message
        self.debug = debug
    }

    public var description: String { "\(element): \(message)" }
}
