public import AvatarFormats
public import AvatarVulkan
import Foundation

/// The weights of one safetensors file resident on the device: every tensor sub-allocated from one
/// buffer (one `vkAllocateMemory`), filled from the memory-mapped file through one staging buffer.
///
/// Floating-point tensors (F32, F16, BF16) become fp32, or fp16 when `storage` is `.float16` and the device
/// has 16-bit storage buffers; integer tensors become fp32 values (indices and tables are small).
public final class WeightStore: Sendable {
    public let device: VulkanDevice
    public let buffer: DeviceBuffer
    private let tensors: [String: Tensor]

    /// `names`: only these tensors (nil = all). `placement`: `.deviceLocal` (default) uploads through a
    /// staging buffer; `.hostMapped` writes in place.
    public init(file: SafeTensorsFile, device: VulkanDevice, storage: Tensor.ElementType = .float32,
                names: [String]? = nil, placement: DeviceBuffer.Placement = .deviceLocal) throws {
        self.device = device
        let wanted = names ?? file.names
        let elementType: Tensor.ElementType = storage == .float16 && device.info.storageBuffer16BitAccess ? .float16 : .float32
        let alignment = device.bufferAlignment
        var layout: [(name: String, view: TensorView, offset: Int, type: Tensor.ElementType)] = []
        var total = 0
        for name in wanted {
            let view = try file.tensor(name)
            let type: Tensor.ElementType = [.f32, .f16, .bf16].contains(view.dtype) ? elementType : .float32
            total = (total + alignment - 1) / alignment * alignment
            layout.append((name, view, total, type))
            total += max(4, view.info.elementCount * type.byteSize)
        }
        // 16 spare bytes: the last tensor can still be read through a texel view with a partial last texel.
        let buffer = try DeviceBuffer(device: device, byteCount: total + 16, placement: placement)
        // One host image of the whole buffer, converted from the mapped file, then (device-local) one copy.
        var tensors: [String: Tensor] = [:]
        try buffer.fill(byteCount: total + 16) { image in
            for entry in layout {
                let destination = image.baseAddress! + entry.offset
                let n = entry.view.info.elementCount
                if n > 0 { switch (entry.view.dtype, entry.type) {
                case (.f32, .float32):
                    destination.copyMemory(from: entry.view.bytes.baseAddress!, byteCount: n * 4)
                case (.f16, .float16):
                    destination.copyMemory(from: entry.view.bytes.baseAddress!, byteCount: n * 2)
                case (_, .float16):
                    let halves = destination.bindMemory(to: UInt16.self, capacity: n)
                    for (i, v) in entry.view.floats().enumerated() { halves[i] = Float16(v).bitPattern }
                case (_, .float32):
                    let floats = destination.bindMemory(to: Float.self, capacity: n)
                    for (i, v) in entry.view.floats().enumerated() { floats[i] = v }
                } }
                let slice = BufferSlice(buffer: buffer, offset: entry.offset, byteCount: max(4, n * entry.type.byteSize))
                tensors[entry.name] = try Tensor(shape: entry.view.shape, elementType: entry.type, storage: slice)
            }
        }
        self.buffer = buffer
        self.tensors = tensors
    }

    /// Opens `url` (memory-mapped) and uploads its tensors.
    public convenience init(url: URL, device: VulkanDevice, storage: Tensor.ElementType = .float32,
                            names: [String]? = nil) throws {
        try self.init(file: try SafeTensorsFile(url: url), device: device, storage: storage, names: names)
    }

    public var names: [String] { tensors.keys.sorted() }

    /// The tensor called `name`, optionally checking its shape.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[name] else { throw OperatorError.missingWeight(name) }
        if let shape, shape != t.shape { throw OperatorError.shape("weight \(name) is \(t.shape), expected \(shape)") }
        return t
    }
}
