import AvatarFormats
@testable import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// The runtime: device policy, SPIR-V reflection of every shipped variant, pipeline cache header,
/// staging transfers, weight loading, error surfaces.
@Suite(.serialized) struct RuntimeTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    static func info(_ index: Int, _ name: String, _ type: VulkanDeviceType) -> VulkanDeviceInfo {
        VulkanDeviceInfo(index: index, name: name, type: type, vendorID: 0, deviceID: 0, driverName: "", driverInfo: "",
                         apiVersion: "1.3.0", driverVersion: 0, subgroupSize: 32, shaderFloat16: false, storageBuffer16BitAccess: false,
                         cooperativeMatrix: false, maxComputeSharedMemory: 0, pipelineCacheUUID: [])
    }

    @Test func deviceSelectionPrefersDiscreteAndRefusesMismatch() throws {
        let devices = [Self.info(0, "llvmpipe", .cpu), Self.info(1, "Intel UHD", .integrated), Self.info(2, "NVIDIA H100", .discrete)]
        #expect(try DeviceRequirement().select(from: devices).index == 2)
        #expect(try DeviceRequirement(type: .integrated).select(from: devices).index == 1)
        #expect(try DeviceRequirement(name: "llvm").select(from: devices).index == 0)
        #expect(try DeviceRequirement(index: 1).select(from: devices).name == "Intel UHD")
        #expect(throws: DeviceSelectionError.self) { try DeviceRequirement(type: .discrete).select(from: [devices[0]]) }
        #expect(throws: DeviceSelectionError.self) { try DeviceRequirement(type: .cpu, index: 2).select(from: devices) }
        #expect(throws: DeviceSelectionError.self) { try DeviceRequirement(index: 7).select(from: devices) }
        #expect(throws: DeviceSelectionError.self) { try DeviceRequirement(parsing: "gpu") }
        #expect(throws: DeviceSelectionError.noDevices) { try DeviceRequirement().select(from: []) }
        do {
            _ = try DeviceRequirement(type: .discrete).select(from: [devices[0]])
        } catch {
            #expect(error.description.contains("llvmpipe"), "the error names what was found")
        }
    }

    @Test func enumerationDescribesTheDevice() throws {
        let devices = try VulkanInstance.enumerate()
        try #require(!devices.isEmpty)
        for d in devices {
            #expect(!d.name.isEmpty)
            #expect(d.apiVersion.split(separator: ".").count == 3)
            #expect(d.subgroupSize >= 1)
            #expect(d.subgroupOperations.contains("basic"), "Vulkan 1.1+ guarantees basic subgroup ops in compute")
            #expect(d.pipelineCacheUUID.count == 16)
        }
    }

    /// Every shipped variant reflects to the push-constant size its host struct declares, and creates.
    /// Every generated variant has its SPIR-V, the SPIR-V declares the variant's push-constant size, bindings and
    /// texel bindings, and every shipped SPIR-V has a variant.
    @Test func everyVariantCreatesWithMatchingPushConstants() throws {
        let gpu = try gpu
        #expect(Set(Shader.all.map(\.name)) == Set(ShaderLibrary.variantNames), "generated variants vs bundled SPIR-V")
        #expect(Shader.all.count >= 60)
        for v in Shader.all {
            let reflection = try SPIRVReflection(spirv: gpu.library.spirv(v.name))
            #expect(reflection.pushConstantSize == v.pushConstantSize, "\(v.name): shader \(reflection.pushConstantSize) bytes, host \(v.pushConstantSize)")
            #expect(reflection.texelBindings == v.texelBindings, "\(v.name): texel bindings")
            #expect(reflection.bindings.allSatisfy { $0 < v.bindings }, "\(v.name): bindings \(reflection.bindings) vs \(v.bindings)")
            _ = try gpu.library.pipeline(named: v.name, bindings: v.bindings, texelBindings: v.texelBindings, pushConstantSize: v.pushConstantSize)
        }
        // Read-only bindings come from the SPIR-V: binary reads a and b and writes y; texel bindings are reads.
        #expect(try SPIRVReflection(spirv: gpu.library.spirv("binary_add")).readOnlyBindings == [0, 1])
        #expect(try SPIRVReflection(spirv: gpu.library.spirv("matmul_vec4")).readOnlyBindings == [0, 1, 2])
        // A drifted host struct, or storage bindings for texel-buffer ones, are refused at pipeline creation.
        let fresh = ShaderLibrary(device: gpu.device)
        #expect(throws: VulkanError.self) { try fresh.pipeline(named: "softmax", bindings: 3, pushConstantSize: 16) }
        #expect(throws: VulkanError.self) { try fresh.pipeline(named: "matmul_vec4", bindings: 4, pushConstantSize: MatmulPush.shaderSize) }
    }

    @Test func pushConstantLayoutsMatchTheirDeclaredSizes() {
        #expect(MemoryLayout<ScaleShiftPush>.size == ScaleShiftPush.shaderSize)
        #expect(MemoryLayout<RotaryPush>.size == RotaryPush.shaderSize)
        #expect(MemoryLayout<Conv1dPush>.size == Conv1dPush.shaderSize)
        #expect(MemoryLayout<Conv3dPush>.size == Conv3dPush.shaderSize)
        #expect(MemoryLayout<ResizePush>.size == ResizePush.shaderSize)
        #expect(MemoryLayout<Pool2dPush>.size == Pool2dPush.shaderSize)
        #expect(MemoryLayout<Upfirdn2dPush>.size == Upfirdn2dPush.shaderSize)
        #expect(MemoryLayout<GridSample3dPush>.size == GridSample3dPush.shaderSize)
        #expect(MemoryLayout<CopyPush>.size == CopyPush.shaderSize)
        #expect(MemoryLayout<ScanPush>.size == ScanPush.shaderSize)
        #expect(MemoryLayout<SortRowsPush>.size == SortRowsPush.shaderSize)
        #expect(MemoryLayout<SearchSortedPush>.size == SearchSortedPush.shaderSize)
        #expect(MemoryLayout<AttentionPush>.size == AttentionPush.shaderSize)
    }

    @Test func pipelineCacheIsPersistedAndRejectedForAnotherDevice() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("vulkan-pipelines.cache")
        do {
            let device = try VulkanDevice(cacheDirectory: dir)
            #expect(device.pipelineCacheStatus == .fresh)
            _ = try ShaderLibrary(device: device).pipeline(Shader.softmax)
            device.savePipelineCache()
        }
        let saved = try Data(contentsOf: file)
        #expect(saved.starts(with: Array("AVDPCACH".utf8)))
        do {
            let device = try VulkanDevice(cacheDirectory: dir)
            guard case .loaded(let bytes) = device.pipelineCacheStatus else {
                Issue.record("cache not loaded: \(device.pipelineCacheStatus)")
                return
            }
            #expect(bytes > 0)
        }
        // Same file with another pipelineCacheUUID byte: rejected, not handed to the driver.
        var tampered = [UInt8](saved)
        tampered[8 + 16] ^= 0xFF
        try Data(tampered).write(to: file)
        let device = try VulkanDevice(cacheDirectory: dir)
        guard case .rejected = device.pipelineCacheStatus else {
            Issue.record("a cache for another device was accepted: \(device.pipelineCacheStatus)")
            return
        }
    }

    /// Device-local buffers go through staging copies both ways.
    @Test func stagingRoundTripThroughDeviceLocalMemory() throws {
        let gpu = try gpu
        let buffer = try DeviceBuffer(device: gpu.device, byteCount: 4096, placement: .deviceLocal)
        let values = GPUHarness.random(1000, seed: 50)
        try buffer.write(values, offset: 13)
        #expect(try buffer.read(count: 1000, offset: 13) == values)
        // A shader reads the staged data and writes a device-local output.
        let out = try DeviceBuffer(device: gpu.device, byteCount: 4096, placement: .deviceLocal)
        let seq = try CommandSequence(device: gpu.device)
        try gpu.ops.activation(seq, .relu, x: BufferSlice(buffer: buffer, offset: 52, byteCount: 4000),
                               y: BufferSlice(buffer: out, offset: 0, byteCount: 4000), count: 1000)
        try seq.run()
        #expect(try out.read(count: 1000) == values.map { max($0, 0) })
        #expect(throws: VulkanError.self) { try buffer.write([1, 2], offset: 1023) }
    }

    /// Recorded once, replayed with new inputs; a chain of 200 tiny dispatches in one submit.
    @Test func replayedChainOfTinyDispatches() throws {
        let gpu = try gpu
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 16)
        let a = try arena.allocate(floats: 64), b = try arena.allocate(floats: 64), one = try arena.allocate(floats: 1)
        try one.write([1])
        let seq = try CommandSequence(device: gpu.device, timestamps: 3)
        try seq.timestamp("start")
        for i in 0..<200 {
            try gpu.ops.binary(seq, .add, a: i % 2 == 0 ? a : b, b: one, y: i % 2 == 0 ? b : a, count: 64, broadcast: 1)
        }
        try seq.timestamp("chain")
        #expect(seq.dispatchCount == 200)
        for start in [Float(0), 5] {
            try a.write([Float](repeating: start, count: 64))
            try seq.run()
            #expect(try a.read() == [Float](repeating: start + 200, count: 64))
        }
        let timings = seq.timings()
        #expect(timings.count == 1 && timings[0].seconds >= 0)
        #expect(throws: VulkanError.self) { try gpu.ops.activation(seq, .relu, x: a, y: b, count: 64) }
    }

    @Test func weightStoreLoadsSafetensorsIntoOneBuffer() throws {
        let gpu = try gpu
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-weights-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = GPUHarness.random(13 * 7, seed: 55), b = GPUHarness.random(9, seed: 56)
        var writer = SafeTensorsWriter()
        writer.add("layer.weight", shape: [13, 7], floats: a)
        writer.add("layer.bias", shape: [9], floats: b)
        try writer.write(to: url)
        for storage in Tensor.ElementType.allCases {
            let store = try WeightStore(url: url, device: gpu.device, storage: storage)
            #expect(store.names == ["layer.bias", "layer.weight"])
            let w = try store.tensor("layer.weight", shape: [13, 7])
            let expected = storage == .float16 && gpu.device.info.storageBuffer16BitAccess ? a.map { Float(Float16($0)) } : a
            #expect(try w.read() == expected)
            #expect(throws: OperatorError.self) { try store.tensor("missing") }
            #expect(throws: OperatorError.self) { try store.tensor("layer.bias", shape: [10]) }
        }
    }

    /// A submission that outlives the fence timeout is reported as a lost device (a hung GPU never blocks
    /// the render thread forever), and the device then fails fast.
    @Test func hungSubmissionSurfacesAsDeviceLost() throws {
        let device = try VulkanDevice(fenceTimeout: .milliseconds(1))
        let ops = Operators(library: ShaderLibrary(device: device))
        let n = 512
        let arena = try BufferArena(device: device, byteCount: 3 * n * n * 4 + 4096)
        let a = try arena.allocate(floats: n * n), c = try arena.allocate(floats: n * n)
        let seq = try CommandSequence(device: device)
        for _ in 0..<8 { try ops.matmul(seq, a: a, b: a, c: c, m: n, n: n, k: n) }
        do {
            try seq.run()
            Issue.record("eight 512³ matmuls finished within 1 ms; the timeout path was not exercised")
        } catch {
            #expect(error.isDeviceLost, "\(error)")
            #expect(device.isLost)
            #expect(throws: VulkanError.self) { try seq.run() }
        }
    }

    @Test func computeContextPersistsThePipelineCache() throws {
        _ = try gpu
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-context-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let context = try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: dir)
            let device = context.device
            let arena = try BufferArena(device: device, byteCount: 1 << 12)
            let x = try arena.allocate(floats: 3), y = try arena.allocate(floats: 3)
            try x.write([-2, 0, 3])
            let seq = try CommandSequence(device: device)
            try context.ops.activation(seq, .silu, x: x, y: y, count: 3)
            try seq.run()
            let out = try y.read()
            #expect(abs(out[2] - 3 / (1 + Foundation.exp(-3))) < 1e-6 && out[1] == 0)
        }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("vulkan-pipelines.cache").path))
    }

    @Test func misuseIsAnErrorNotACrash() throws {
        let gpu = try gpu
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 12)
        let x = try arena.allocate(floats: 8)
        let seq = try CommandSequence(device: gpu.device)
        let pipeline = try gpu.library.pipeline(named: "unary_relu", bindings: 2, pushConstantSize: UnaryPush.shaderSize)
        #expect(throws: VulkanError.self) { try seq.dispatch(pipeline, buffers: [x], push: UnaryPush(n: 8, alpha: 0, beta: 1), groups: (1, 1, 1)) }
        #expect(throws: VulkanError.self) { try seq.dispatch(pipeline, buffers: [x, x], push: UInt32(0), groups: (1, 1, 1)) }
        #expect(throws: VulkanError.self) { try seq.dispatch(pipeline, buffers: [x, x], push: UnaryPush(n: 8, alpha: 0, beta: 1), groups: (0, 1, 1)) }
        try seq.dispatch(pipeline, buffers: [x, x], push: UnaryPush(n: 8, alpha: 0, beta: 1), groups: (1, 1, 1))
        try seq.submit()
        #expect(throws: VulkanError.self) { try seq.submit() }
        try seq.wait()
        #expect(throws: VulkanError.self) { try seq.dispatch(pipeline, buffers: [x, x], push: UnaryPush(n: 8, alpha: 0, beta: 1), groups: (1, 1, 1)) }
        #expect(throws: VulkanError.self) { try x.write([Float](repeating: 0, count: 9)) }
        #expect(throws: VulkanError.self) { try Tensor(shape: [3, 3], storage: x) }
        #expect(throws: OperatorError.self) { try gpu.library.pipeline(named: "no_such_shader", bindings: 1, pushConstantSize: 0) }
        let huge = try? DeviceBuffer(device: gpu.device, byteCount: 1 << 50)
        #expect(huge == nil, "an impossible allocation is a thrown VulkanError")
    }
}
