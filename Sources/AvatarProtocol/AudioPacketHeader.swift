/// The 16-byte big-endian header that precedes every Opus packet in a binary frame (protocol v1).
///
/// | bytes | field   | value                                          |
/// |-------|---------|------------------------------------------------|
/// | 0     | magic   | 0x41 ('A')                                     |
/// | 1     | version | 0x01                                           |
/// | 2–3   | flags   | 0 (reserved)                                   |
/// | 4–7   | seq     | u32, +1 per packet, wraps                      |
/// | 8–15  | ts      | u64, first sample, 48 kHz samples since start  |
public struct AudioPacketHeader: Sendable, Equatable {
    public static let size = 16
    public static let magic: UInt8 = 0x41
    public static let version: UInt8 = 0x01
    /// Largest binary frame, header included.
    public static let maxFrameBytes = 4096
    /// Largest Opus packet (RFC 6716).
    public static let maxOpusPacketBytes = 1275

    public var seq: UInt32
    public var ts: UInt64

    public init(seq: UInt32, ts: UInt64) {
        self.seq = seq
        self.ts = ts
    }

    /// Parses a binary frame into its header and Opus payload, enforcing every rule of the spec.
    public static func parse(_ frame: some Collection<UInt8>) throws(ProtocolViolation) -> (AudioPacketHeader, [UInt8]) {
        let bytes = Array(frame)
        guard bytes.count <= maxFrameBytes else {
            throw .tooBig("binary frame of \(bytes.count) bytes exceeds \(maxFrameBytes)")
        }
        guard bytes.count >= size else {
            throw .protocolError("binary frame of \(bytes.count) bytes is shorter than the 16-byte header")
        }
        guard bytes[0] == magic else {
            throw .protocolError("bad magic 0x\(String(bytes[0], radix: 16)), expected 0x41")
        }
        guard bytes[1] == version else {
            throw .protocolError("unsupported binary header version \(bytes[1]), expected 1")
        }
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        guard flags == 0 else {
            throw .protocolError("reserved flags must be 0, got 0x\(String(flags, radix: 16))")
        }
        var seq: UInt32 = 0
        for i in 4..<8 { seq = seq << 8 | UInt32(bytes[i]) }
        var ts: UInt64 = 0
        for i in 8..<16 { ts = ts << 8 | UInt64(bytes[i]) }
        let payload = Array(bytes[size...])
        guard !payload.isEmpty else { throw .protocolError("binary frame carries no Opus packet") }
        guard payload.count <= maxOpusPacketBytes else {
            throw .tooBig("Opus packet of \(payload.count) bytes exceeds \(maxOpusPacketBytes)")
        }
        return (AudioPacketHeader(seq: seq, ts: ts), payload)
    }

    /// Serializes header + payload into one binary frame.
    public func frame(payload: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.size + payload.count)
        out.append(Self.magic)
        out.append(Self.version)
        out.append(0)
        out.append(0)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: seq >> UInt32(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: ts >> UInt64(shift))) }
        out.append(contentsOf: payload)
        return out
    }
}
