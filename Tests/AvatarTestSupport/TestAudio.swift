import AvatarMedia
import Foundation

/// Synthetic speech-like test audio: tone bursts and silences, encoded as 20 ms Opus packets.
public enum TestAudio {
    /// 48 kHz mono samples: for each (seconds, amplitude) a 220 Hz tone of that amplitude.
    public static func segments(_ parts: [(seconds: Double, amplitude: Float)], frequency: Double = 220) -> [Float] {
        var out: [Float] = []
        for (seconds, amplitude) in parts {
            let n = Int(seconds * 48000)
            let start = out.count
            out += (0..<n).map { i in amplitude * Float(sin(2 * Double.pi * frequency * Double(start + i) / 48000)) }
        }
        return out
    }

    public static func packets(_ pcm: [Float]) throws -> [[UInt8]] {
        try OpusEncoder(sampleRate: 48000, bitrate: 32000, voice: false).encodePackets(pcm)
    }
}
