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
    /// Every tensor as the bundle stores it (the converters do any reordering or padding; a feed-forward width
    /// that is a multiple of 4 takes the vec4 matmul, tools/convert.py pads it exactly).
    let weights: WeightStore
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
        weights = try WeightStore(file: file, device: device, names: shapes.keys.sorted())
        var host: [String: [Float]] = [:]
        var hostNames = ["time.freqs", "time.proj.weight", "time.proj.bias", "null_cond", "rotary.inv_freq"]
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
