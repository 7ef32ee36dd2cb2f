public import AvatarProtocol

/// What a streaming client saw: every server message in order and how the connection closed.
public struct ClientResult: Sendable {
    public var messages: [ServerMessage]
    public var closeCode: UInt16?
    public var closeReason: String?

    public var errors: [(code: CloseCode, message: String)] {
        messages.compactMap { if case let .error(code, message) = $0 { (code, message) } else { nil } }
    }

    public var ended: ServerMessage.Ended? {
        for m in messages { if case .sessionEnded(let e) = m { return e } }
        return nil
    }

    public var ready: (sessionID: String, video: ServerMessage.VideoInfo, latencyMs: Int)? {
        for m in messages { if case let .sessionReady(id, video, _, latency) = m { return (id, video, latency) } }
        return nil
    }
}
