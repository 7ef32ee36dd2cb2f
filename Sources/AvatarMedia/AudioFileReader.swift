import Foundation

/// Reads any audio (or the audio track of a video) that GStreamer can decode. Blocking: for tools
/// (`avatard send`, `avatard render`) and tests, not for the daemon's event loops.
public enum AudioFileReader {
    /// Mono Float samples at `rate` (16 kHz, the model rate, by default).
    public static func pcm(path: String, rate: Int = 16000) throws(MediaError) -> [Float] {
        try checkReadable(path)
        guard (8000...192000).contains(rate) else { throw .pipeline("unsupported sample rate \(rate)") }
        let p = try AppSinkPipeline("""
            filesrc name=src ! decodebin ! audioconvert ! audioresample
            ! audio/x-raw,format=F32LE,channels=1,rate=\(rate) ! appsink name=out sync=false
            """, properties: [("src", "location", path)])
        var samples: [Float] = []
        for buffer in try drain(p, path: path) {
            buffer.bytes.withUnsafeBytes { raw in
                samples.append(contentsOf: raw.bindMemory(to: Float.self))
            }
        }
        guard !samples.isEmpty else { throw .noAudio(path) }
        return samples
    }

    /// 20 ms Opus packets (48 kHz mono), as a client would send them, with their durations in 48 kHz
    /// samples (from each packet's TOC). The last packet is padded by the encoder.
    public static func opusPackets(path: String, bitrate: Int = 32000) throws(MediaError) -> [(data: [UInt8], duration48k: Int)] {
        try checkReadable(path)
        guard (6000...510_000).contains(bitrate) else { throw .pipeline("unsupported Opus bitrate \(bitrate)") }
        let p = try AppSinkPipeline("""
            filesrc name=src ! decodebin ! audioconvert ! audioresample
            ! audio/x-raw,channels=1,rate=48000 ! opusenc frame-size=20 bitrate=\(bitrate) audio-type=voice
            ! appsink name=out sync=false
            """, properties: [("src", "location", path)])
        let packets: [(data: [UInt8], duration48k: Int)] = try drain(p, path: path).compactMap { buffer in
            guard let n = OpusDecoder.samples48k(buffer.bytes) else { return nil }
            return (buffer.bytes, n)
        }
        guard !packets.isEmpty else { throw .noAudio(path) }
        return packets
    }

    /// The file exists, is readable and holds an audio stream (a decode branch for a file without one would
    /// wait forever for data, so this is checked first by demuxing without decoding).
    private static func checkReadable(_ path: String) throws(MediaError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .missingFile(path) }
        guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
            throw .decode("\(path) is not a readable file")
        }
        let streams: [MediaProbe.Stream]
        do {
            streams = try StreamInspector.inspect(path: path).streams
        } catch .decode(let message) {
            throw .decode("\(path): \(message)")
        } catch {
            throw error
        }
        guard streams.contains(where: \.isAudio) else { throw .noAudio(path) }
    }

    private static func drain(_ p: AppSinkPipeline, path: String) throws(MediaError) -> [AppSinkPipeline.Buffer] {
        do {
            return try p.drain("out")
        } catch .decode(let message) {
            throw .decode("\(path): \(message)")
        } catch {
            throw error
        }
    }
}
