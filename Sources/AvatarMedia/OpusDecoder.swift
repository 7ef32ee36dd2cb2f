internal import COpusShims
internal import COpus

/// libopus decoder producing mono Float samples directly at the model rate (8/12/16/24/48 kHz), so no
/// resampler runs after it. Not thread-safe: one per session, used from its render thread.
public final class OpusDecoder {
    private let decoder: OpaquePointer
    public let sampleRate: Int32
    /// Room for the longest packet (120 ms) at this rate.
    private var scratch: [Float]

    /// Output samples in 2.5 ms, the granularity libopus decodes and conceals in.
    public var quantum: Int { Int(sampleRate) / 400 }

    public init(sampleRate: Int32 = 16000) throws(OpusError) {
        var error: Int32 = 0
        guard [8000, 12000, 16000, 24000, 48000].contains(sampleRate) else {
            throw OpusError(code: Int32(OPUS_BAD_ARG), operation: "opus_decoder_create(\(sampleRate), 1)")
        }
        guard let d = opus_decoder_create(sampleRate, 1, &error), error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_decoder_create(\(sampleRate), 1)")
        }
        decoder = d
        self.sampleRate = sampleRate
        scratch = [Float](repeating: 0, count: Int(sampleRate) * 120 / 1000)
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes one packet; throws for packets libopus rejects (empty, bad TOC, corrupt).
    public func decode(_ packet: [UInt8]) throws(OpusError) -> [Float] {
        guard !packet.isEmpty, packet.count <= 1275 * 6 else {
            throw OpusError(code: Int32(OPUS_INVALID_PACKET), operation: "opus_decode_float(\(packet.count) bytes)")
        }
        let n = packet.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                opus_decode_float(decoder, p.baseAddress!, Int32(p.count), out.baseAddress!, Int32(out.count), 0)
            }
        }
        guard n >= 0 else { throw OpusError(code: n, operation: "opus_decode_float") }
        return Array(scratch[0..<Int(n)])
    }

    /// Packet-loss concealment for `samples` samples at this rate. With `next` (the packet that follows the
    /// loss), the in-band FEC data it carries rebuilds the lost audio when the encoder put FEC in it;
    /// otherwise libopus extrapolates (PLC). Always returns exactly `samples` samples: a remainder under
    /// 2.5 ms, or anything libopus cannot conceal (e.g. before the first packet), is silence.
    public func conceal(samples: Int, next: [UInt8]? = nil) -> [Float] {
        guard samples > 0 else { return [] }
        var out = [Float](repeating: 0, count: samples)
        var done = 0
        // FEC describes only the frame just before `next`: use it for the tail of the gap, PLC before that.
        let fecLength: Int
        if let next, !next.isEmpty, let d = Self.samples48k(next) {
            fecLength = min(samples, d * Int(sampleRate) / 48000) / quantum * quantum
        } else {
            fecLength = 0
        }
        let plcLength = (samples - fecLength) / quantum * quantum
        out.withUnsafeMutableBufferPointer { o in
            // PLC in steps of at most 20 ms (libopus' frame_size limit is 120 ms; small steps fade naturally).
            let step = Int(sampleRate) / 50
            while done < plcLength {
                let n = min(step, plcLength - done)
                let produced = opus_decode_float(decoder, nil, 0, o.baseAddress! + done, Int32(n), 0)
                if produced < 0 { break }
                done += Int(produced)
            }
            if fecLength > 0, let next {
                let start = samples - fecLength
                var produced = next.withUnsafeBufferPointer { p in
                    opus_decode_float(decoder, p.baseAddress, Int32(p.count), o.baseAddress! + start, Int32(fecLength), 1)
                }
                if produced < 0 {
                    produced = opus_decode_float(decoder, nil, 0, o.baseAddress! + start, Int32(fecLength), 0)
                }
                if produced < 0 {
                    for i in start..<samples { o[i] = 0 }
                }
            }
        }
        return out
    }

    /// Forgets the decoder state (after an interruption): the next packet decodes as a fresh start.
    public func reset() { _ = avd_opus_decoder_reset(decoder) }

    /// Samples at 48 kHz in a packet, from its TOC, or nil if it is malformed (empty, or over 120 ms).
    public static func samples48k(_ packet: [UInt8]) -> Int? {
        guard !packet.isEmpty else { return nil }
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_samples($0.baseAddress!, Int32($0.count), 48000) }
        return n > 0 && n <= 5760 ? Int(n) : nil
    }
}
