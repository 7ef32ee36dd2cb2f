/// Client-supplied text made safe for a log line or an error message: control characters (ESC, NUL,
/// newlines, …) and other non-printing scalars are written as `\u{…}` escapes, and the result is cut at
/// `limit` scalars (escapes included) with the original length noted, so no client can forge log lines or flood the log.
public enum LogText {
    public static let defaultLimit = 200

    public static func escaped(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let piece: String.UnicodeScalarView
            switch scalar.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
                piece = "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars
            default:
                piece = String.UnicodeScalarView([scalar])
            }
            // The limit counts what is written, escapes included.
            if out.count + piece.count > limit {
                return String(out) + "…(\(text.utf8.count) bytes)"
            }
            out.append(contentsOf: piece)
        }
        return String(out)
    }
}
