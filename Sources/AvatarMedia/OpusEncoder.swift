internal import COpusShims
internal import COpus

/// libopus encoder, mono. Used by the reference client and tests, and to make the silence packets that
/// fill gaps in a session's output audio. Not thread-safe.
public final class OpusEncoder {
    private let encoder: OpaquePointer
    public let sampleRate: Int32

    /// - Parameters:
    ///   - inbandFEC: put a low-bitrate copy of each frame into the next packet (lets a receiver rebuild a
    ///     single lost packet); libopus only does so when `expectedLossPercent` > 0.
    ///   - dtx: discontinuous transmission (packets stop during silence; receivers see a ts gap).
    public init(sampleRate: Int32 = 48000, bitrate: Int32 = 32000, voice: Bool = true,
                inbandFEC: Bool = false, expectedLossPercent: Int32 = 0, dtx: Bool = false) throws(OpusError) {
        var error: Int32 = 0
        guard let e = opus_encoder_create(sampleRate, 1, voice ? OpusCodes.applicationVoIP : OpusCodes.applicationAudio, &error),
              error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_encoder_create(\(sampleRate), 1)")
        }
        encoder = e
        self.sampleRate = sampleRate
        for (code, operation) in [(avd_opus_encoder_set_bitrate(e, bitrate), "OPUS_SET_BITRATE(\(bitrate))"),
                                  (avd_opus_encoder_set_inband_fec(e, inbandFEC ? 1 : 0), "OPUS_SET_INBAND_FEC"),
                                  (avd_opus_encoder_set_packet_loss_perc(e, expectedLossPercent), "OPUS_SET_PACKET_LOSS_PERC"),
                                  (avd_opus_encoder_set_dtx(e, dtx ? 1 : 0), "OPUS_SET_DTX")] where code != OPUS_OK {
            opus_encoder_destroy(e)
            throw OpusError(code: code, operation: operation)
        }
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Encoder delay in samples at this rate (decoded audio lags the input by this much).
    public var lookahead: Int {
        var n: Int32 = 0
        _ = avd_opus_encoder_get_lookahead(encoder, &n)
        return Int(n)
    }

    /// Encodes exactly one frame (2.5, 5, 10, 20, 40 or 60 ms of samples) into one packet.
    public func encode(_ pcm: [Float]) throws(OpusError) -> [UInt8] {
        guard !pcm.isEmpty else { throw OpusError(code: Int32(OPUS_BAD_ARG), operation: "opus_encode_float(0 samples)") }
        var out = [UInt8](repeating: 0, count: 1500)
        let n = pcm.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                opus_encode_float(encoder, p.baseAddress!, Int32(p.count), o.baseAddress!, Int32(o.count))
            }
        }
        guard n > 0 else { throw OpusError(code: n, operation: "opus_encode_float(\(pcm.count) samples)") }
        return Array(out[0..<Int(n)])
    }

    /// Encodes a whole signal into packets of `frameMilliseconds` (20 by default; the last one zero-padded).
    public func encodePackets(_ pcm: [Float], frameMilliseconds: Int = 20) throws(OpusError) -> [[UInt8]] {
        let frame = Int(sampleRate) * frameMilliseconds / 1000
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
