import AvatarProtocol
import NIOCore
import NIOWebSocket

/// Sits after NIO's WebSocket frame decoder on the public listener and enforces what the decoder does
/// not, answering with the protocol's `error` message before the close frame:
/// - client frames must be masked (RFC 6455 §5.1): otherwise `protocol` (4000);
/// - an unfragmented text frame must be valid UTF-8: otherwise `protocol` (4000);
/// - framing errors from the decoder (a frame over the size limit: `too_big` 1009; others: `protocol`).
/// After a rejection nothing more is read and the connection is closed.
final class SessionFrameGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let maxFrameSize: Int
    private var rejected = false

    init(maxFrameSize: Int) { self.maxFrameSize = maxFrameSize }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        let frame = unwrapInboundIn(data)
        if frame.maskKey == nil {
            reject(context: context, .protocolError("client frames must be masked (RFC 6455 section 5.1)"))
            return
        }
        if frame.opcode == .text, frame.fin {
            if !Self.isValidUTF8(frame.unmaskedData) {
                reject(context: context, .protocolError("text message is not valid UTF-8"))
                return
            }
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !rejected else { return }
        switch error {
        case NIOWebSocketError.invalidFrameLength:
            reject(context: context, .tooBig("message exceeds \(maxFrameSize) bytes"))
        case is NIOWebSocketError:
            reject(context: context, .protocolError("invalid WebSocket framing: \(error)"))
        default:
            context.fireErrorCaught(error)
        }
    }

    private func reject(context: ChannelHandlerContext, _ violation: ProtocolViolation) {
        rejected = true
        let json = ServerMessage.error(code: violation.code, message: violation.message).json()
        var text = context.channel.allocator.buffer(capacity: json.utf8.count)
        text.writeString(json)
        var close = context.channel.allocator.buffer(capacity: 2)
        close.writeInteger(violation.code.rawValue)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: text)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: close)))
            .whenComplete { _ in context.close(promise: nil) }
    }

    private static func isValidUTF8(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            String(validating: raw, as: UTF8.self) != nil
        }
    }
}
