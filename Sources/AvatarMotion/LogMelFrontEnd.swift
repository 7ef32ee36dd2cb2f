import Foundation

/// The log-mel front-end (docs/motion.md §1.2) on the CPU: Hann-windowed 400-sample frames every 320 samples,
/// zero-padded to a 512-point FFT (float64, like the reference), power spectrum, 80 HTK triangles with peak 1,
/// natural log with a floor. It is ~1 MFLOP per second of audio, so the GPU would only add a round trip.
///
/// Thread-safety: immutable after init (tables only); `features(_:)` allocates its own scratch.
public final class LogMelFrontEnd: Sendable {
    public let config: LogMelConfig
    private let window: [Double]
    /// Mel triangles as (first bin, weights) per band: only the non-zero span is stored.
    private let bands: [(start: Int, weights: [Double])]
    private let twiddles: [(cos: Double, sin: Double)]
    private let bitReverse: [Int]
    /// The row of digital silence (every band at ln(log_floor)): the motion stage's idle and padding input.
    public let silenceRow: [Float]

    public init(config: LogMelConfig) {
        self.config = config
        let n = config.windowLength
        // Periodic Hann computed in double and used as float32, as the reference does.
        window = (0..<n).map { Double(Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)))) }
        let bins = config.nFFT / 2 + 1
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        func hz(_ m: Double) -> Double { 700 * (pow(10, m / 2595) - 1) }
        let lo = mel(config.fmin), hi = mel(config.fmax)
        let edges = (0..<(config.melBands + 2)).map { hz(lo + Double($0) * (hi - lo) / Double(config.melBands + 1)) }
        var bands: [(Int, [Double])] = []
        for m in 0..<config.melBands {
            var weights = [Double](repeating: 0, count: bins)
            for k in 0..<bins {
                let f = Double(k) * Double(config.sampleRate) / Double(config.nFFT)
                let up = (f - edges[m]) / (edges[m + 1] - edges[m])
                let down = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
                // The reference rounds the filterbank to float32 before the (float64) product.
                weights[k] = Double(Float(max(0, min(up, down))))
            }
            let first = weights.firstIndex { $0 != 0 } ?? 0
            let last = weights.lastIndex { $0 != 0 } ?? 0
            bands.append((first, Array(weights[first...max(first, last)])))
        }
        self.bands = bands
        silenceRow = [Float](repeating: Float(Foundation.log(config.logFloor)), count: config.melBands)
        let size = config.nFFT
        twiddles = (0..<(size / 2)).map { (cos(-2 * Double.pi * Double($0) / Double(size)), sin(-2 * Double.pi * Double($0) / Double(size))) }
        let bitsCount = size.trailingZeroBitCount
        bitReverse = (0..<size).map { i in
            var r = 0
            for b in 0..<bitsCount where i & (1 << b) != 0 { r |= 1 << (bitsCount - 1 - b) }
            return r
        }
    }

    /// Rows for every complete frame of `samples` (frame t = samples [hop·t, hop·t + win)), row-major [frames, bands].
    public func features(_ samples: [Float]) -> [Float] {
        let frames = config.frames(samples: samples.count)
        var out = [Float](repeating: 0, count: frames * config.melBands)
        var re = [Double](repeating: 0, count: config.nFFT)
        var im = [Double](repeating: 0, count: config.nFFT)
        var power = [Double](repeating: 0, count: config.nFFT / 2 + 1)
        let floor = config.logFloor
        samples.withUnsafeBufferPointer { x in
            for t in 0..<frames {
                let base = t * config.hopLength
                for i in 0..<config.nFFT { re[i] = 0; im[i] = 0 }
                for i in 0..<config.windowLength { re[bitReverse[i]] = Double(x[base + i]) * window[i] }
                fft(&re, &im)
                for k in 0...(config.nFFT / 2) { power[k] = re[k] * re[k] + im[k] * im[k] }
                for (m, band) in bands.enumerated() {
                    var e = 0.0
                    for (j, w) in band.weights.enumerated() { e += w * power[band.start + j] }
                    out[t * config.melBands + m] = Float(Foundation.log(max(e, floor)))
                }
            }
        }
        return out
    }

    /// In-place iterative radix-2 FFT; the input is already in bit-reversed order.
    private func fft(_ re: inout [Double], _ im: inout [Double]) {
        let n = re.count
        var size = 2
        while size <= n {
            let half = size / 2, step = n / size
            var start = 0
            while start < n {
                for j in 0..<half {
                    let w = twiddles[j * step]
                    let a = start + j, b = a + half
                    let tr = re[b] * w.cos - im[b] * w.sin
                    let ti = re[b] * w.sin + im[b] * w.cos
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
                start += size
            }
            size *= 2
        }
    }
}
