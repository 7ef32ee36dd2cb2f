/// One Opus packet to send, with its duration in 48 kHz samples.
public struct ClientPacket: Sendable, Equatable {
    public var data: [UInt8]
    public var duration48k: Int

    public init(data: [UInt8], duration48k: Int) {
        self.data = data
        self.duration48k = duration48k
    }
}
