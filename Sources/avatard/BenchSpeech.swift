import AvatarClient
import AvatarMedia
import Foundation

/// Speech for the session benchmarks: a file (any format GStreamer decodes) or a sentence synthesized with
/// espeak-ng, as 20 ms Opus packets, repeated to fill `seconds` (0: once).
enum BenchSpeech {
    static func packets(audio: String?, seconds: Double) throws -> [ClientPacket] {
        var path = audio
        var temporary: String?
        if path == nil {
            let wav = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-bench-\(getpid()).wav").path
            let espeak = Process()
            espeak.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            espeak.arguments = ["espeak-ng", "-w", wav,
                                "Real time talking faces need steady frames. Every session speaks, pauses, and speaks again, so the mouth opens and closes."]
            try espeak.run()
            espeak.waitUntilExit()
            guard espeak.terminationStatus == 0 else { throw ValidationErrorMessage("espeak-ng failed; pass --audio FILE") }
            path = wav
            temporary = wav
        }
        defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
        let one = try AudioFileReader.opusPackets(path: path!).map { ClientPacket(data: $0.data, duration48k: $0.duration48k) }
        guard !one.isEmpty else { throw ValidationErrorMessage("\(path!): no audio") }
        var packets = one
        var total = one.reduce(0) { $0 + $1.duration48k }
        while Double(total) / 48000 < seconds {
            for p in one where Double(total) / 48000 < seconds {
                packets.append(p)
                total += p.duration48k
            }
        }
        return packets
    }
}
