import AvatarClient
import AvatarProtocol
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import WSClient

/// Test client that sends arbitrary frames (valid or not) and records what the server answers.
enum RawClient {
    enum Frame: Sendable {
        case text(String)
        case binary([UInt8])
        case pause(Duration)
    }

    struct Outcome: Sendable {
        var messages: [ServerMessage]
        var closeCode: UInt16?
        var errorCode: CloseCode? {
            for m in messages { if case let .error(code, _) = m { return code } }
            return nil
        }
        var errorMessage: String? {
            for m in messages { if case let .error(_, message) = m { return message } }
            return nil
        }
    }

    final class Log: Sendable {
        let messages = Mutex<[ServerMessage]>([])
    }

    static func exchange(_ url: String, frames: [Frame], headers: HTTPFields = [:], waitForClose: Duration = .seconds(30)) async throws -> Outcome {
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        configuration.additionalHeaders = headers
        var logger = Logger(label: "raw-client")
        logger.logLevel = .critical
        let log = Log()
        let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let t) = message, let m = ServerMessage.parse(t) { log.messages.withLock { $0.append(m) } }
                    }
                }
                for frame in frames {
                    switch frame {
                    case .text(let t): try await outbound.writeTextMessage(t)
                    case .binary(let b): try await outbound.writeBinaryMessage(ByteBuffer(bytes: b))
                    case .pause(let d): try await Task.sleep(for: d)
                    }
                }
                group.addTask { try await Task.sleep(for: waitForClose) }
                try await group.next()
                group.cancelAll()
            }
        }
        return Outcome(messages: log.messages.withLock { $0 }, closeCode: close.map { StreamingClient.code($0.closeCode) })
    }

    /// A raw HTTP/1.1 upgrade attempt; returns the status code of the response.
    static func upgradeStatus(port: Int, path: String, headers: [String: String]) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw POSIXError(.ECONNREFUSED) }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = recv(fd, &buffer, buffer.count, 0)
        let text = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
        let parts = text.split(separator: " ")
        return parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    }
}
