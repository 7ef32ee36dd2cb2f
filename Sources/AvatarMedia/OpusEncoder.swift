internal import CAvatarShims
internal import COpus

/// libopus encoder, mono. Used by the reference client path in tests, and to make the silence packets that
/// fill gaps in a session's output audio.
public final class OpusEncoder {
    private let encoder: OpaquePointer
    public let sampleRate: Int32

    public init(sampleRate: Int32 = 48000, bitrate: Int32 = 32000, voice: Bool = true) throws(OpusError) {
        var error: Int32 = 0
        guard let e = opus_encoder_create(sampleRate, 1, voice ? OpusCodes.applicationVoIP : OpusCodes.applicationAudio, &error),
              error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_encoder_create(\(sampleRate), 1)")
        }
        encoder = e
        self.sampleRate = sampleRate
        _ = avd_opus_encoder_set_bitrate(e, bitrate)
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Encodes exactly one frame (2.5, 5, 10, 20, 40 or 60 ms of samples) into one packet.
    public func encode(_ pcm: [Float]) throws(OpusError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1500)
        let n = pcm.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                opus_encode_float(encoder, p.baseAddress!, Int32(p.count), o.baseAddress!, Int32(o.count))
            }
        }
        guard n > 0 else { throw OpusError(code: n, operation: "opus_encode_float(\(pcm.count) samples)") }
        return Array(out[0..<Int(n)])
    }

    /// Encodes a whole signal into 20 ms packets (the last one zero-padded).
    public func encodePackets(_ pcm: [Float]) throws(OpusError) -> [[UInt8]] {
        let frame = Int(sampleRate) / 50
        var packets: [[UInt8]] = []
        var i = 0
        while i < pcm.count {
            var chunk = Array(pcm[i..<min(i + frame, pcm.count)])
            if chunk.count < frame { chunk += [Float](repeating: 0, count: frame - chunk.count) }
            packets.append(try encode(chunk))
            i += frame
        }
        return packets
    }
}
