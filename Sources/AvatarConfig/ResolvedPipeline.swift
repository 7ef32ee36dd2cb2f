/// A preset's pipeline with its placeholders filled. `text` is what GStreamer parses; it never contains a
/// client's bytes. A client-settable string option appears in `text` only as a token of letters and digits
/// (`bindings`' key); after parsing, the output replaces that token in the string property of the element
/// that carries it with the value (`bindings`' value), so no quote, backslash, `!` or `name=` in a value
/// can change the pipeline's structure.
public struct ResolvedPipeline: Sendable, Equatable {
    public var text: String
    /// Token → value for client-settable string options.
    public var bindings: [String: String]

    public init(text: String, bindings: [String: String] = [:]) {
        self.text = text
        self.bindings = bindings
    }
}
