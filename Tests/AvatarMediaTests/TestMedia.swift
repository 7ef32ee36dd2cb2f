public import AvatarFormats
import AvatarMedia
import Foundation

/// Shared helpers: synthetic signals, presets from Pipelines/, scratch files.
enum TestMedia {
    /// Repository root (Tests/AvatarMediaTests/TestMedia.swift → ../..).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func tone(seconds: Double, frequency: Double = 440, rate: Double = 48000, amplitude: Double = 0.5) -> [Float] {
        (0..<Int(seconds * rate)).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / rate)) }
    }

    /// 20 ms packets of a tone at 48 kHz.
    static func tonePackets(seconds: Double, frequency: Double = 440, fec: Bool = false) throws -> [[UInt8]] {
        try OpusEncoder(sampleRate: 48000, bitrate: 48000, voice: false, inbandFEC: fec, expectedLossPercent: fec ? 20 : 0)
            .encodePackets(tone(seconds: seconds, frequency: frequency))
    }

    /// Dominant frequency by counting zero crossings.
    static func frequency(_ x: ArraySlice<Float>, rate: Double) -> Double {
        var crossings = 0
        for (a, b) in zip(x, x.dropFirst()) where (a < 0) != (b < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(x.count) / rate)
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        guard !x.isEmpty else { return 0 }
        return (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    /// A preset's pipeline text from Pipelines/<name>.toml with its placeholders filled.
    static func preset(_ name: String, values: [String: String]) throws -> (mode: OutputPipeline.Mode, pipeline: String) {
        let text = try String(contentsOf: root.appendingPathComponent("Pipelines/\(name).toml"), encoding: .utf8)
        guard let open = text.range(of: "pipeline = \"\"\""),
              let close = text.range(of: "\"\"\"", range: open.upperBound..<text.endIndex) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var pipeline = String(text[open.upperBound..<close.lowerBound])
        for (key, value) in values { pipeline = pipeline.replacingOccurrences(of: "{\(key)}", with: value) }
        let mode: OutputPipeline.Mode = text.contains("mode = \"live\"") ? .live : .offline
        return (mode, pipeline)
    }

    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A frame whose luma encodes `index` as a brightness level (so decoded frames can be matched).
    static func frame(_ format: VideoFormat, level: UInt8) -> I420Frame {
        I420Frame(width: format.width, height: format.height, y: level)
    }

    static func freePort() -> Int { Int.random(in: 20000..<60000) & ~1 }
}
