public import AvatarBundle
public import AvatarFormats
import AvatarOperators
public import AvatarGraph
public import AvatarVulkan
import Foundation

/// The tensors of a HuBERT encoder on the device, checked against the configuration: either a bundle's
/// `hubert.safetensors` (uploaded by `WeightStore`) or the deterministic recipe of docs/motion.md §5
/// (tests and `avatard bench motion` build full-size models without shipping weights).
public final class HuBERTWeights: Sendable {
    public let config: HuBERTConfig
    private let tensors: [String: Tensor]

    /// From a weight file (e.g. the bundle's `hubert.safetensors`); every tensor's shape is checked first.
    public init(file: SafeTensorsFile, config: HuBERTConfig, device: VulkanDevice) throws {
        try config.validate()
        try config.validateTensors(file: file.url.lastPathComponent) { file.tensors[$0]?.shape }
        let names = config.tensorShapes.map(\.name)
        let store = try WeightStore(file: file, device: device, storage: .float32, names: names)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in config.tensorShapes { tensors[name] = try store.tensor(name, shape: shape) }
        self.config = config
        self.tensors = tensors
    }

    /// The bundle's `audio_frontend` component of kind "hubert": its config and its one weight file.
    public convenience init(bundle: AvatarBundle, component: BundleManifest.Component, device: VulkanDevice) throws {
        guard component.kind == "hubert" else {
            throw MotionModelError("hubert", "audio_frontend.kind is '\(component.kind)', expected 'hubert'")
        }
        let config = try HuBERTConfig(manifest: component.config)
        guard component.weights.count == 1, let file = bundle.file(component.weights[0]) else {
            throw MotionModelError("hubert", "audio_frontend.weights must name one safetensors file of the bundle, found \(component.weights)")
        }
        try self.init(file: file, config: config, device: device)
    }

    /// Generates every tensor from the recipe (`HuBERTConfig.recipe`) straight into one device buffer.
    /// Bit-identical to tools/reference/weights.py.
    public init(recipeFor config: HuBERTConfig, device: VulkanDevice) throws {
        try config.validate()
        let recipe = config.recipe()
        let alignment = device.bufferAlignment
        var offsets: [Int] = []
        var total = 0
        for entry in recipe {
            total = (total + alignment - 1) / alignment * alignment
            offsets.append(total)
            total += entry.shape.reduce(1, *) * 4
        }
        // 16 spare bytes keep the last tensor texel-viewable (as WeightStore does).
        let buffer = try DeviceBuffer(device: device, byteCount: total + 16, placement: .deviceLocal)
        try buffer.fill(byteCount: total + 16) { image in
            // Jobs of at most 4 M elements, generated on all cores.
            var jobs: [(floats: UnsafeMutablePointer<Float>, key: UInt64, start: Int, end: Int, scale: Double, offset: Double)] = []
            for (entry, offset) in zip(recipe, offsets) {
                let count = entry.shape.reduce(1, *)
                let floats = (image.baseAddress! + offset).bindMemory(to: Float.self, capacity: count)
                let key = RecipeWeights.fnv1a64(entry.name)
                var start = 0
                while start < count {
                    let end = min(count, start + (1 << 22))
                    jobs.append((floats, key, start, end, entry.scale, entry.offset))
                    start = end
                }
            }
            let work = RecipeJobs(jobs)
            DispatchQueue.concurrentPerform(iterations: work.jobs.count) { work.run($0) }
        }
        var tensors: [String: Tensor] = [:]
        for (entry, offset) in zip(recipe, offsets) {
            let slice = BufferSlice(buffer: buffer, offset: offset, byteCount: entry.shape.reduce(1, *) * 4)
            tensors[entry.name] = try Tensor(shape: entry.shape, storage: slice)
        }
        self.config = config
        self.tensors = tensors
    }

    /// The tensor `name` (its shape was checked at load).
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw MotionModelError("hubert", "tensor '\(name)' is missing") }
        return t
    }

    /// Recipe generation jobs; each writes a disjoint range of the staging image.
    private final class RecipeJobs: @unchecked Sendable {
        // @unchecked: the jobs write disjoint element ranges of one host buffer that outlives the loop.
        let jobs: [(floats: UnsafeMutablePointer<Float>, key: UInt64, start: Int, end: Int, scale: Double, offset: Double)]

        init(_ jobs: [(floats: UnsafeMutablePointer<Float>, key: UInt64, start: Int, end: Int, scale: Double, offset: Double)]) {
            self.jobs = jobs
        }

        func run(_ j: Int) {
            let job = jobs[j]
            for i in job.start..<job.end {
                job.floats[i] = Float(job.offset + job.scale * RecipeWeights.unit(key: job.key, index: i))
            }
        }
    }
}

extension HuBERTWeights: WeightSource {
    public func weightTensor(_ name: String) -> Tensor? { try? tensor(name) }
}
