public import AvatarBundle
public import AvatarFormats
public import AvatarOperators
public import AvatarVulkan
import Foundation
import Synchronization

/// ICS-A2M (docs/motion.md §2) on the Vulkan engine: the read-only part shared by every session of an avatar.
///
/// Weights live on the device (one `WeightStore`); the few small tensors the host needs (time embedding,
/// adaptive-norm projections, null prompt, rotary frequencies) are also kept on the host. The
/// adaptive norms' γ(t), β(t) depend only on the ODE time, so they are computed once per grid time in float64
/// and cached. Networks (planned once per sequence length) belong to the caller: see `ICSA2MRunner`.
///
/// Usage: `let model = try ICSA2MModel(bundle:device:ops:)` once per avatar; per session
/// `A2MMotionStage(model:style:options:silenceRow:)` (which owns an `ICSA2MRunner`, the planned networks).
/// Every tensor of docs/motion.md §4.3 is checked by name and shape at load (`MotionModelError` names the
/// tensor, the expected and the found shape); bundles with aux features are refused by `ICSA2MConfig`.
public final class ICSA2MModel: @unchecked Sendable {
    // @unchecked: immutable after init except `adaCache`, which a Mutex guards.
    public let config: ICSA2MConfig
    public let device: VulkanDevice
    public let ops: Operators
    let weights: WeightStore
    /// conv_embed weight/bias repeated for 1 and 2 sequences (the CFG branches run as one batch of 2).
    let convEmbed: [Int: (weight: Tensor, bias: Tensor)]
    private let derived: DeviceBuffer
    /// Feed-forward inner width rounded up to a multiple of 4, and per layer the FF weights zero-padded to it
    /// (value and gate halves each padded; exact, since padded value rows and weight columns are 0), so every
    /// FF matmul takes the vec4 kernel (682 and 341 are not multiples of 4). Empty when no padding is needed.
    let ffWidth: Int
    /// The audio encoder's k3 convs as matmuls over tap-stacked rows [x_{t−1} ‖ x_t ‖ x_{t+1}]: weights
    /// reordered from [out, in, 3] to [out, 3·in] (tap-major), so they take the vec4 matmul without transposes.
    let audioConv0: Tensor
    let audioConv1: Tensor
    private let audioBuffer: DeviceBuffer
    private let ffPadded: [(inWeight: Tensor, inBias: Tensor, outWeight: Tensor)]
    private let ffBuffer: DeviceBuffer?
    let host: [String: [Float]]
    private let adaCache = Mutex<[UInt32: [Float]]>([:])

    /// Loads and validates the motion model's tensors from `file` (a bundle's a2m.safetensors).
    public init(file: SafeTensorsFile, config: ICSA2MConfig, device: VulkanDevice, ops: Operators) throws {
        self.config = config
        self.device = device
        self.ops = ops
        let shapes = config.tensorShapes
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            guard let info = file.tensors[name] else {
                throw MotionModelError("ics_a2m", "\(file.url.lastPathComponent): tensor '\(name)' is missing (expected shape \(shape))")
            }
            guard info.shape == shape else {
                throw MotionModelError("ics_a2m", "\(file.url.lastPathComponent): tensor '\(name)' has shape \(info.shape), expected \(shape)")
            }
        }
        // Padded FF weights (below) replace the originals on the device.
        let padsFeedForward = config.ffInner % 4 != 0
        let deviceNames = shapes.keys.filter { name in
            name != "audio_encoder.conv0.weight" && name != "audio_encoder.conv1.weight"
                && !(padsFeedForward && (name.hasSuffix(".ff.in.weight") || name.hasSuffix(".ff.in.bias") || name.hasSuffix(".ff.out.weight")))
        }
        weights = try WeightStore(file: file, device: device, names: deviceNames.sorted())
        var host: [String: [Float]] = [:]
        var hostNames = ["time.freqs", "time.proj.weight", "time.proj.bias", "null_cond", "rotary.inv_freq",
                         "conv_embed.weight", "conv_embed.bias"]
        for i in 0..<config.depth {
            for norm in ["attn_norm", "ff_norm"] {
                for part in ["gamma.weight", "gamma.bias", "beta.weight", "beta.bias"] { hostNames.append("layers.\(i).\(norm).\(part)") }
            }
        }
        for name in hostNames { host[name] = try file.tensor(name).floats() }
        for (name, values) in host where !values.allSatisfy(\.isFinite) {
            throw MotionModelError("ics_a2m", "\(file.url.lastPathComponent): tensor '\(name)' contains NaN or Inf")
        }
        self.host = host

        // Depthwise conv weights for 1 and 2 stacked sequences (groups = sequences·dim).
        let d = config.dim, k = config.convKernel
        let alignment = device.bufferAlignment
        func aligned(_ n: Int) -> Int { (n * 4 + alignment - 1) / alignment * alignment }
        let total = aligned(d * k) + aligned(d) + aligned(2 * d * k) + aligned(2 * d)
        derived = try DeviceBuffer(device: device, byteCount: total, placement: .hostMapped)
        var offset = 0
        var conv: [Int: (Tensor, Tensor)] = [:]
        for s in [1, 2] {
            let w = BufferSlice(buffer: derived, offset: offset, byteCount: s * d * k * 4)
            offset += aligned(s * d * k)
            let b = BufferSlice(buffer: derived, offset: offset, byteCount: s * d * 4)
            offset += aligned(s * d)
            let wv = Array([[Float]](repeating: host["conv_embed.weight"]!, count: s).joined())
            let bv = Array([[Float]](repeating: host["conv_embed.bias"]!, count: s).joined())
            try w.write(wv)
            try b.write(bv)
            conv[s] = (try Tensor(shape: [s * d, 1, k], storage: w), try Tensor(shape: [s * d], storage: b))
        }
        convEmbed = conv

        let h = config.audioHidden
        func tapMajor(_ w: [Float], cin: Int) -> [Float] {
            var out = [Float](repeating: 0, count: h * 3 * cin)
            for o in 0..<h { for i in 0..<cin { for k in 0..<3 { out[o * 3 * cin + k * cin + i] = w[(o * cin + i) * 3 + k] } } }
            return out
        }
        let conv0 = tapMajor(try file.tensor("audio_encoder.conv0.weight").floats(), cin: config.audioDim)
        let conv1 = tapMajor(try file.tensor("audio_encoder.conv1.weight").floats(), cin: h)
        let span0 = aligned(conv0.count)
        audioBuffer = try DeviceBuffer(device: device, byteCount: span0 + aligned(conv1.count) + 16, placement: .deviceLocal)
        let w0 = BufferSlice(buffer: audioBuffer, offset: 0, byteCount: conv0.count * 4)
        let w1 = BufferSlice(buffer: audioBuffer, offset: span0, byteCount: conv1.count * 4)
        try w0.write(conv0)
        try w1.write(conv1)
        audioConv0 = try Tensor(shape: [h, 3 * config.audioDim], storage: w0)
        audioConv1 = try Tensor(shape: [h, 3 * h], storage: w1)

        let ff = config.ffInner, fp = (ff + 3) / 4 * 4
        ffWidth = fp
        if fp == ff {
            ffPadded = []
            ffBuffer = nil
        } else {
            func span(_ floats: Int) -> Int { (floats * 4 + alignment - 1) / alignment * alignment }
            let perLayer = span(2 * fp * d) + span(2 * fp) + span(d * fp)
            let buffer = try DeviceBuffer(device: device, byteCount: perLayer * config.depth + 16, placement: .deviceLocal)
            var padded: [(Tensor, Tensor, Tensor)] = []
            var at = 0
            func slice(_ floats: Int, _ values: [Float]) throws -> BufferSlice {
                let s = BufferSlice(buffer: buffer, offset: at, byteCount: floats * 4)
                try s.write(values)
                at += span(floats)
                return s
            }
            for i in 0..<config.depth {
                let w1 = try file.tensor("layers.\(i).ff.in.weight").floats(), b1 = try file.tensor("layers.\(i).ff.in.bias").floats()
                let w2 = try file.tensor("layers.\(i).ff.out.weight").floats()
                var pw1 = [Float](repeating: 0, count: 2 * fp * d), pb1 = [Float](repeating: 0, count: 2 * fp)
                var pw2 = [Float](repeating: 0, count: d * fp)
                for half in 0..<2 {
                    for r in 0..<ff {
                        let from = half * ff + r, to = half * fp + r
                        pw1.replaceSubrange((to * d)..<((to + 1) * d), with: w1[(from * d)..<((from + 1) * d)])
                        pb1[to] = b1[from]
                    }
                }
                for o in 0..<d { pw2.replaceSubrange((o * fp)..<(o * fp + ff), with: w2[(o * ff)..<((o + 1) * ff)]) }
                padded.append((try Tensor(shape: [2 * fp, d], storage: try slice(2 * fp * d, pw1)),
                               try Tensor(shape: [2 * fp], storage: try slice(2 * fp, pb1)),
                               try Tensor(shape: [d, fp], storage: try slice(d * fp, pw2))))
            }
            ffPadded = padded
            ffBuffer = buffer
        }
    }

    /// Layer i's feed-forward weights at width `ffWidth`: ff.in [2·ffWidth, dim] (+ bias), ff.out [dim, ffWidth].
    func feedForward(_ i: Int) throws -> (inWeight: Tensor, inBias: Tensor, outWeight: Tensor) {
        if i < ffPadded.count { return ffPadded[i] }
        let p = "layers.\(i)."
        return (try weight(p + "ff.in.weight"), try weight(p + "ff.in.bias"), try weight(p + "ff.out.weight"))
    }

    /// Loads the bundle's `motion_model` (kind `ics_a2m`): config from the manifest, weights from its first
    /// weight file.
    public convenience init(bundle: AvatarBundle, device: VulkanDevice, ops: Operators) throws {
        guard let component = bundle.manifest.motionModel else {
            throw MotionModelError("ics_a2m", "bundle '\(bundle.name)' has no motion_model")
        }
        guard component.kind == "ics_a2m" else {
            throw MotionModelError("ics_a2m", "bundle '\(bundle.name)': motion_model.kind is '\(component.kind)', expected 'ics_a2m'")
        }
        guard let name = component.weights.first, let file = bundle.file(name) else {
            throw MotionModelError("ics_a2m", "bundle '\(bundle.name)': motion_model lists no open weight file (weights: \(component.weights))")
        }
        try self.init(file: file, config: try ICSA2MConfig(manifest: component.config), device: device, ops: ops)
    }

    /// Loads `url` (memory-mapped safetensors).
    public convenience init(url: URL, config: ICSA2MConfig, device: VulkanDevice, ops: Operators) throws {
        try self.init(file: try SafeTensorsFile(url: url), config: config, device: device, ops: ops)
    }

    func weight(_ name: String) throws -> Tensor { try weights.tensor(name) }

    /// e = silu(time.proj([sin f ‖ cos f])), f = t·freqs·2·π in float32 left to right (π rounded to nearest).
    public func timeEmbedding(_ t: Float) -> [Float] {
        let freqs = host["time.freqs"]!, half = freqs.count
        let pi = Float(Double.pi)
        var features = [Double](repeating: 0, count: 2 * half)
        for j in 0..<half {
            let f = t * freqs[j] * 2 * pi
            features[j] = Double(Float(Foundation.sin(Double(f))))
            features[half + j] = Double(Float(Foundation.cos(Double(f))))
        }
        let w = host["time.proj.weight"]!, b = host["time.proj.bias"]!
        return (0..<config.timeHidden).map { o in
            var acc = Double(b[o])
            let row = o * 2 * half
            for i in 0..<(2 * half) { acc += Double(w[row + i]) * features[i] }
            let x = Float(acc)
            return x / (1 + Float(Foundation.exp(Double(-x))))
        }
    }

    /// γ and β of every adaptive norm at time t: per layer [attn γ, attn β, ff γ, ff β], each [dim].
    public func adaptiveNorms(_ t: Float) -> [Float] {
        if let cached = adaCache.withLock({ $0[t.bitPattern] }) { return cached }
        let e = timeEmbedding(t).map(Double.init)
        let d = config.dim, th = config.timeHidden
        var out = [Float]()
        out.reserveCapacity(config.depth * 4 * d)
        for i in 0..<config.depth {
            for norm in ["attn_norm", "ff_norm"] {
                for part in ["gamma", "beta"] {
                    let w = host["layers.\(i).\(norm).\(part).weight"]!, b = host["layers.\(i).\(norm).\(part).bias"]!
                    for o in 0..<d {
                        var acc = Double(b[o])
                        let row = o * th
                        for j in 0..<th { acc += Double(w[row + j]) * e[j] }
                        out.append(Float(acc))
                    }
                }
            }
        }
        adaCache.withLock { $0[t.bitPattern] = out }
        return out
    }

    /// Rotary cos/sin [registers + n, dim_head/2] for positions (register_position × registers, 0…n−1):
    /// angle = float32(position·inv_freq), evaluated in double and rounded (angles reach 1e4 rad).
    public func rotaryTables(rows n: Int) -> (cos: [Float], sin: [Float]) {
        let inv = host["rotary.inv_freq"]!
        var cos = [Float](), sin = [Float]()
        let positions = [Float](repeating: Float(config.registerPosition), count: config.registers) + (0..<n).map(Float.init)
        for p in positions {
            for f in inv {
                let angle = Double(p * f)
                cos.append(Float(Foundation.cos(angle)))
                sin.append(Float(Foundation.sin(angle)))
            }
        }
        return (cos, sin)
    }

    /// The learned null prompt (CFG unconditional branch), [motion_dim].
    public var nullCondValues: [Float] { host["null_cond"]! }
}
