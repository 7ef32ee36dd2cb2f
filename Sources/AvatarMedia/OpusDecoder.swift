internal import CAvatarShims
internal import COpus

/// libopus decoder producing mono Float samples directly at the model rate (8/12/16/24/48 kHz), so no
/// resampler runs after it. Not thread-safe: one per session, used from its render thread.
public final class OpusDecoder {
    private let decoder: OpaquePointer
    public let sampleRate: Int32
    /// Longest packet (120 ms) at this rate.
    private var scratch: [Float]

    public init(sampleRate: Int32 = 16000) throws(OpusError) {
        var error: Int32 = 0
        guard let d = opus_decoder_create(sampleRate, 1, &error), error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_decoder_create(\(sampleRate), 1)")
        }
        decoder = d
        self.sampleRate = sampleRate
        scratch = [Float](repeating: 0, count: Int(sampleRate) * 120 / 1000)
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes one packet; throws for packets libopus rejects.
    public func decode(_ packet: [UInt8]) throws(OpusError) -> [Float] {
        let n = packet.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                opus_decode_float(decoder, p.baseAddress, Int32(p.count), out.baseAddress!, Int32(out.count), 0)
            }
        }
        guard n >= 0 else { throw OpusError(code: n, operation: "opus_decode_float") }
        return Array(scratch[0..<Int(n)])
    }

    /// Packet-loss concealment for `samples` samples at this rate (a multiple of 2.5 ms). With `next`, the
    /// in-band FEC data of the following packet is used to rebuild the lost one when present.
    public func conceal(samples: Int, next: [UInt8]? = nil) -> [Float] {
        var out = [Float](repeating: 0, count: samples)
        var produced: Int32 = -1
        out.withUnsafeMutableBufferPointer { o in
            if let next, !next.isEmpty {
                produced = next.withUnsafeBufferPointer { p in
                    opus_decode_float(decoder, p.baseAddress, Int32(p.count), o.baseAddress!, Int32(samples), 1)
                }
            }
            if produced < 0 {
                produced = opus_decode_float(decoder, nil, 0, o.baseAddress!, Int32(samples), 0)
            }
        }
        // If libopus could not conceal (e.g. before any packet), silence is the honest fallback.
        if produced < 0 { return [Float](repeating: 0, count: samples) }
        return Array(out[0..<Int(produced)]) + [Float](repeating: 0, count: samples - Int(produced))
    }

    /// Forgets the decoder state (after an interruption).
    public func reset() { _ = avd_opus_decoder_reset(decoder) }

    /// Samples at 48 kHz in a packet, from its TOC, or nil if it is malformed.
    public static func samples48k(_ packet: [UInt8]) -> Int? {
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_samples($0.baseAddress!, Int32($0.count), 48000) }
        return n > 0 ? Int(n) : nil
    }
}
