/// Reads an Opus packet's duration from its table-of-contents byte (RFC 6716 §3.1) without decoding,
/// so the network side can account buffered audio before the render thread decodes it.
public enum OpusTOC {
    /// Samples at 48 kHz in the packet, or nil for a malformed packet (which the decoder will count as lost).
    public static func samples48k(_ packet: some Collection<UInt8>) -> Int? {
        guard let toc = packet.first else { return nil }
        let config = Int(toc >> 3)
        let frameSamples: Int
        switch config {
        case 0...11: frameSamples = [480, 960, 1920, 2880][config % 4]
        case 12...15: frameSamples = [480, 960][config % 2]
        default: frameSamples = [120, 240, 480, 960][config % 4]
        }
        let frames: Int
        switch toc & 0x3 {
        case 0: frames = 1
        case 1, 2: frames = 2
        default:
            guard packet.count >= 2 else { return nil }
            frames = Int(packet[packet.index(after: packet.startIndex)] & 0x3F)
            guard frames > 0 else { return nil }
        }
        let total = frames * frameSamples
        // A packet holds at most 120 ms.
        return total <= 5760 ? total : nil
    }
}
