import AvatarMedia

/// Opus packets of digital silence (20, 10, 5 and 2.5 ms at 48 kHz), encoded once per session, that fill
/// the output audio wherever the timeline has no client packet (loss, DTX, underrun).
struct OpusSilence {
    private var byDuration: [(duration: Int, packet: [UInt8])] = []

    init() {
        guard let encoder = try? OpusEncoder(sampleRate: 48000, bitrate: 16000) else { return }
        for duration in [960, 480, 240, 120] {
            if let packet = try? encoder.encode([Float](repeating: 0, count: duration)) {
                byDuration.append((duration, packet))
            }
        }
    }

    /// Packets covering `samples48k` (the remainder under 2.5 ms is left uncovered).
    func packets(covering samples48k: Int) -> [(packet: [UInt8], duration: Int)] {
        var left = samples48k
        var out: [([UInt8], Int)] = []
        for (duration, packet) in byDuration {
            while left >= duration {
                out.append((packet, duration))
                left -= duration
            }
        }
        return out
    }
}
