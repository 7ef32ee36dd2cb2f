public import AvatarProtocol
import Foundation
import HTTPTypes
public import Logging
import Synchronization
public import NIOWebSocket
import WSClient

/// The reference client of protocol v1 (`avatard send`): starts a session, streams Opus packets with the
/// 16-byte header at real time or as fast as the server reads, sends control messages at chosen points,
/// and collects the server's messages.
public struct StreamingClient: Sendable {
    public enum Pacing: Sendable { case realtime, fast }

    /// Something to do just before sending packet `beforePacket` (or after the last with `Int.max`).
    public struct Action: Sendable {
        public enum Kind: Sendable { case interrupt, end, keepalive, pause(Duration) }
        public var beforePacket: Int
        public var kind: Kind
        public init(beforePacket: Int, kind: Kind) {
            self.beforePacket = beforePacket
            self.kind = kind
        }
    }

    public var url: String
    public var token: String?
    public var subprotocol: String? = "avatard.v1"
    public var logger: Logger

    public init(url: String, token: String? = nil, logger: Logger) {
        self.url = url
        self.token = token
        self.logger = logger
    }

    /// Runs one session. `close`: send `session.close` after the audio (else `input.end` and wait for the
    /// server to close or `linger` to pass, then drop the connection as a vanished client would).
    public func run(start: SessionStart, packets: [ClientPacket], pacing: Pacing, actions: [Action] = [],
                    close: Bool = true, linger: Duration = .seconds(2),
                    onMessage: (@Sendable (ServerMessage) -> Void)? = nil) async throws -> ClientResult {
        let messages = MessageLog()
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        if let token { configuration.additionalHeaders[.authorization] = "Bearer \(token)" }
        if let subprotocol { configuration.additionalHeaders[HTTPField.Name("Sec-WebSocket-Protocol")!] = subprotocol }
        let startJSON = try Self.encode(start)
        let closeFrame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message, let parsed = ServerMessage.parse(text) else { continue }
                        messages.append(parsed)
                        onMessage?(parsed)
                    }
                }
                try await outbound.writeTextMessage(startJSON)
                do {
                    try await Self.stream(packets, pacing: pacing, actions: actions, outbound: outbound)
                    if close {
                        try await outbound.writeTextMessage(#"{"type":"session.close"}"#)
                    } else {
                        try await outbound.writeTextMessage(#"{"type":"input.end"}"#)
                        try await Task.sleep(for: linger)
                        group.cancelAll()
                        return
                    }
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    // The server closed the connection (error, shutdown): stop sending, keep what it said.
                }
                try await group.next()
            }
        }
        return ClientResult(messages: messages.all, closeCode: closeFrame.map { Self.code($0.closeCode) },
                            closeReason: closeFrame?.reason)
    }

    private static func stream(_ packets: [ClientPacket], pacing: Pacing, actions: [Action],
                               outbound: WebSocketOutboundWriter) async throws {
        let clock = ContinuousClock()
        let t0 = clock.now
        var ts: UInt64 = 0
        for (i, packet) in packets.enumerated() {
            for action in actions where action.beforePacket == i {
                try await perform(action.kind, outbound: outbound)
            }
            if pacing == .realtime {
                try await Task.sleep(until: t0 + .nanoseconds(Int64(ts) * 1_000_000_000 / 48000), clock: clock)
            }
            let frame = AudioPacketHeader(seq: UInt32(truncatingIfNeeded: i), ts: ts).frame(payload: packet.data)
            try await outbound.writeBinaryMessage(.init(bytes: frame))
            ts += UInt64(packet.duration48k)
        }
        for action in actions where action.beforePacket >= packets.count {
            try await perform(action.kind, outbound: outbound)
        }
    }

    private static func perform(_ kind: Action.Kind, outbound: WebSocketOutboundWriter) async throws {
        switch kind {
        case .interrupt: try await outbound.writeTextMessage(#"{"type":"input.interrupt"}"#)
        case .end: try await outbound.writeTextMessage(#"{"type":"input.end"}"#)
        case .keepalive: try await outbound.writeTextMessage(#"{"type":"keepalive"}"#)
        case .pause(let d): try await Task.sleep(for: d)
        }
    }

    static func encode(_ start: SessionStart) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(start), as: UTF8.self)
    }

    /// The numeric close code (NIO names the standard ones).
    public static func code(_ code: WebSocketErrorCode) -> UInt16 {
        switch code {
        case .normalClosure: 1000
        case .goingAway: 1001
        case .protocolError: 1002
        case .unacceptableData: 1003
        case .dataInconsistentWithMessage: 1007
        case .policyViolation: 1008
        case .messageTooLarge: 1009
        case .missingExtension: 1010
        case .unexpectedServerError: 1011
        case .unknown(let c): c
        }
    }
}

/// Messages received so far, shared between the reading task and the caller.
final class MessageLog: Sendable {
    private let storage = Mutex<[ServerMessage]>([])
    func append(_ m: ServerMessage) { storage.withLock { $0.append(m) } }
    var all: [ServerMessage] { storage.withLock { $0 } }
}
