import Foundation

/// A text frame from the client (protocol v1).
public enum ClientMessage: Sendable, Equatable {
    case sessionStart(SessionStart)
    case inputEnd
    case inputInterrupt
    case keepalive
    case sessionClose

    /// Largest text frame.
    public static let maxTextBytes = 64 * 1024

    /// Parses one text frame. Size, JSON shape and unknown types are protocol violations with the spec's codes.
    public static func parse(_ text: String) throws(ProtocolViolation) -> ClientMessage {
        let data = Data(text.utf8)
        guard data.count <= maxTextBytes else {
            throw .tooBig("text frame of \(data.count) bytes exceeds \(maxTextBytes)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw .protocolError("text frame is not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw .protocolError("text frame must be a JSON object") }
        guard let type = dict["type"] as? String else { throw .protocolError("message has no string field 'type'") }
        switch type {
        case "session.start":
            do {
                let start = try JSONDecoder().decode(SessionStart.self, from: data)
                if let options = start.outputOptions, let key = options.keys.sorted().first(where: { !options[$0]!.isScalar }) {
                    // A nested object or array as an option value: the option is unsupported, the message is fine.
                    throw ProtocolViolation(.unsupported, "output_options.\(key): values must be strings, numbers or booleans")
                }
                return .sessionStart(start)
            } catch let DecodingError.keyNotFound(key, _) {
                throw .protocolError("session.start lacks required field '\(key.stringValue)'")
            } catch let DecodingError.typeMismatch(_, context) {
                throw .protocolError("session.start field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
            } catch let violation as ProtocolViolation {
                throw violation
            } catch let DecodingError.valueNotFound(_, context) {
                throw .protocolError("session.start field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is null")
            } catch {
                throw .protocolError("session.start is malformed: \(error)")
            }
        case "input.end": return .inputEnd
        case "input.interrupt": return .inputInterrupt
        case "keepalive": return .keepalive
        case "session.close": return .sessionClose
        default: throw .protocolError("unknown message type '\(type)'")
        }
    }
}
