import Foundation

/// Reads any audio (or audio track of a video) that GStreamer can decode.
public enum AudioFileReader {
    /// Mono Float samples at `rate`.
    public static func pcm(path: String, rate: Int = 16000) throws(MediaError) -> [Float] {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
        let p = try AppSinkPipeline("""
            filesrc location=\(AppSinkPipeline.quote(path)) ! decodebin ! audioconvert ! audioresample
            ! audio/x-raw,format=F32LE,channels=1,rate=\(rate) ! appsink name=out sync=false
            """)
        var samples: [Float] = []
        for buffer in try p.drain("out") {
            buffer.bytes.withUnsafeBytes { raw in
                samples.append(contentsOf: raw.bindMemory(to: Float.self))
            }
        }
        return samples
    }

    /// 20 ms Opus packets (48 kHz mono), as a client would send them, with their durations in 48 kHz samples.
    public static func opusPackets(path: String, bitrate: Int = 32000) throws(MediaError) -> [(data: [UInt8], duration48k: Int)] {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
        let p = try AppSinkPipeline("""
            filesrc location=\(AppSinkPipeline.quote(path)) ! decodebin ! audioconvert ! audioresample
            ! audio/x-raw,channels=1,rate=48000 ! opusenc frame-size=20 bitrate=\(bitrate) audio-type=voice
            ! appsink name=out sync=false
            """)
        return try p.drain("out").compactMap { buffer in
            guard let n = OpusDecoder.samples48k(buffer.bytes) else { return nil }
            return (buffer.bytes, n)
        }
    }
}
