public import AvatarFormats
public import AvatarBundle

/// The log-mel front-end's constants (docs/motion.md §1.2), read from the manifest's `audio_frontend.config`.
public struct LogMelConfig: Sendable, Equatable {
    public var sampleRate = 16000
    public var nFFT = 512
    public var windowLength = 400
    public var hopLength = 320
    public var melBands = 80
    public var fmin = 20.0
    public var fmax = 7600.0
    public var logFloor = 1e-10

    public init() {}

    /// From a manifest config; every value present must be the one this implementation computes.
    public init(manifest config: [String: JSONValue]?) throws {
        let c = config ?? [:]
        let r = ManifestConfigReader(config) { MotionModelError("log_mel", $0) }
        sampleRate = try r.int("sample_rate", 16000)
        nFFT = try r.int("n_fft", 512)
        windowLength = try r.int("win_length", 400)
        hopLength = try r.int("hop_length", 320)
        melBands = try r.int("n_mels", 80)
        fmin = try r.double("fmin", 20, positive: false)
        fmax = try r.double("fmax", 7600, positive: false)
        logFloor = try r.double("log_floor", 1e-10, positive: false)
        for (key, expected) in [("window", "hann_periodic"), ("mel_scale", "htk"), ("log", "natural")] {
            if let v = c[key], v.string != expected {
                throw MotionModelError("log_mel", "config.\(key) must be \"\(expected)\" (the only variant implemented)")
            }
        }
        guard sampleRate == 16000 else { throw MotionModelError("log_mel", "config.sample_rate must be 16000, got \(sampleRate)") }
        guard nFFT.nonzeroBitCount == 1, windowLength <= nFFT, hopLength <= windowLength else {
            throw MotionModelError("log_mel", "config needs a power-of-two n_fft ≥ win_length ≥ hop_length, got \(nFFT), \(windowLength), \(hopLength)")
        }
        guard fmin >= 0, fmax > fmin, fmax <= Double(sampleRate) / 2 else {
            throw MotionModelError("log_mel", "config fmin \(fmin) / fmax \(fmax) out of range")
        }
    }

    /// Rows per second (50 for the 20 ms hop).
    public var rowsPerSecond: Int { sampleRate / hopLength }

    /// Frames of an utterance of `samples` samples: (N − win)/hop + 1.
    public func frames(samples: Int) -> Int { samples < windowLength ? 0 : (samples - windowLength) / hopLength + 1 }
}
