internal import CVulkan
import Foundation

/// A recorded batch of dispatches: many dispatches per submit, recorded once and replayable per frame,
/// with optional GPU timestamps between stages. Descriptor sets are allocated from the sequence's own pool,
/// so a recorded sequence stays valid for replays (write new inputs into the same slices, `run()` again).
///
/// Threading: record and run from one thread at a time (a session's render thread); `run()` blocks on a
/// fence, so never call it on the Swift cooperative pool or a NIO event loop (see `RenderThread`).
public final class CommandSequence: @unchecked Sendable {
    // @unchecked: confined to the thread that records and runs it (documented above).
    private let device: VulkanDevice
    private let pool: VkDescriptorPool
    private let commandBuffer: VkCommandBuffer
    private let fence: VkFence
    private let queryPool: VkQueryPool?
    private var queryLabels: [String] = []
    /// Texel-buffer views created while recording; they live as long as the recorded command buffer.
    private var views: [VkBufferView] = []
    private let maxTimestamps: Int
    private let maxDispatches: Int
    private var recording = false
    private var ended = false
    public private(set) var dispatchCount = 0

    /// `timestamps`: how many `timestamp(_:)` marks may be recorded (0 = none; ignored where the queue has
    /// no timestamp support, then `timings()` is empty).
    public init(device: VulkanDevice, maxDispatches: Int = 1024, maxBindingsPerDispatch: Int = 8, timestamps: Int = 0) throws(VulkanError) {
        self.device = device
        self.maxDispatches = maxDispatches
        let d = device.handle
        var sizes = [VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(maxDispatches * maxBindingsPerDispatch)),
                     VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, descriptorCount: UInt32(maxDispatches * 2))]
        var poolInfo = VkDescriptorPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        poolInfo.maxSets = UInt32(maxDispatches)
        poolInfo.poolSizeCount = UInt32(sizes.count)
        var poolOut: VkDescriptorPool?
        var r = sizes.withUnsafeMutableBufferPointer { s in
            poolInfo.pPoolSizes = UnsafePointer(s.baseAddress)
            return vkCreateDescriptorPool(d, &poolInfo, nil, &poolOut)
        }
        guard r == VK_SUCCESS, let pool = poolOut else { throw VulkanError(call: "vkCreateDescriptorPool", result: r.rawValue) }

        var allocate = VkCommandBufferAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocate.commandPool = device.commandPool
        allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocate.commandBufferCount = 1
        var cbOut: VkCommandBuffer?
        r = device.commandPoolLock.withLock { _ in vkAllocateCommandBuffers(d, &allocate, &cbOut) }
        guard r == VK_SUCCESS, let cb = cbOut else {
            vkDestroyDescriptorPool(d, pool, nil)
            throw VulkanError(call: "vkAllocateCommandBuffers", result: r.rawValue)
        }
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        // Created signaled so that tearing down a never-submitted sequence does not wait.
        fenceInfo.flags = UInt32(VK_FENCE_CREATE_SIGNALED_BIT.rawValue)
        var fenceOut: VkFence?
        r = vkCreateFence(d, &fenceInfo, nil, &fenceOut)
        guard r == VK_SUCCESS, let fence = fenceOut else {
            device.commandPoolLock.withLock { _ in vkFreeCommandBuffers(d, device.commandPool, 1, &cbOut) }
            vkDestroyDescriptorPool(d, pool, nil)
            throw VulkanError(call: "vkCreateFence", result: r.rawValue)
        }
        var queries: VkQueryPool?
        if timestamps > 0 && device.timestampsSupported {
            var q = VkQueryPoolCreateInfo()
            q.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            q.queryType = VK_QUERY_TYPE_TIMESTAMP
            q.queryCount = UInt32(timestamps)
            if vkCreateQueryPool(d, &q, nil, &queries) != VK_SUCCESS { queries = nil }
        }
        self.pool = pool
        self.commandBuffer = cb
        self.fence = fence
        self.queryPool = queries
        self.maxTimestamps = queries == nil ? 0 : timestamps
    }

    deinit {
        let d = device.handle
        var f: VkFence? = fence
        // Bounded: a lost device must not hang teardown.
        _ = vkWaitForFences(d, 1, &f, 1, 5_000_000_000)
        if let queryPool { vkDestroyQueryPool(d, queryPool, nil) }
        for view in views { vkDestroyBufferView(d, view, nil) }
        vkDestroyFence(d, fence, nil)
        var cb: VkCommandBuffer? = commandBuffer
        device.commandPoolLock.withLock { _ in vkFreeCommandBuffers(d, device.commandPool, 1, &cb) }
        vkDestroyDescriptorPool(d, pool, nil)
    }

    private func beginIfNeeded() throws(VulkanError) {
        guard !ended else { throw .usage("CommandSequence already submitted; record a new sequence") }
        guard !recording else { return }
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        let r = vkBeginCommandBuffer(commandBuffer, &begin)
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkBeginCommandBuffer", result: r.rawValue) }
        if let queryPool { vkCmdResetQueryPool(commandBuffer, queryPool, 0, UInt32(maxTimestamps)) }
        recording = true
    }

    /// Records one dispatch. With `barrier` (the default) a compute→compute/host memory barrier follows, so
    /// the next dispatch sees its writes; pass false only between dispatches that touch disjoint outputs.
    /// `texelFormats` picks the view format of texel-buffer bindings (default RGBA32F; RGBA16F reads fp16
    /// storage as fp32 values through the same shader).
    public func dispatch(_ pipeline: ComputePipeline, buffers: [BufferSlice], pushConstants: UnsafeRawBufferPointer,
                         groups: (x: Int, y: Int, z: Int), barrier: Bool = true,
                         texelFormats: [Int: TexelFormat] = [:]) throws(VulkanError) {
        guard buffers.count == pipeline.bindings else {
            throw .usage("\(pipeline.name) takes \(pipeline.bindings) buffers, got \(buffers.count)")
        }
        guard pushConstants.count == pipeline.pushConstantSize else {
            throw .usage("\(pipeline.name): push constants are \(pipeline.pushConstantSize) bytes, got \(pushConstants.count)")
        }
        let limit = device.maxWorkGroupCount
        guard groups.x >= 1, groups.y >= 1, groups.z >= 1, groups.x <= limit.0, groups.y <= limit.1, groups.z <= limit.2 else {
            throw .usage("\(pipeline.name): workgroup count \(groups) outside 1…\(limit)")
        }
        guard dispatchCount < maxDispatches else {
            throw .usage("CommandSequence holds at most \(maxDispatches) dispatches (raise maxDispatches)")
        }
        for b in buffers where b.buffer.device !== device {
            throw .usage("\(pipeline.name): a buffer belongs to another device")
        }
        try beginIfNeeded()
        let d = device.handle
        var setOut: VkDescriptorSet?
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        let r = withUnsafePointer(to: &layout) { lp in
            var info = VkDescriptorSetAllocateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            info.descriptorPool = pool
            info.descriptorSetCount = 1
            info.pSetLayouts = lp
            return vkAllocateDescriptorSets(d, &info, &setOut)
        }
        guard r == VK_SUCCESS, let set = setOut else {
            throw VulkanError(call: "vkAllocateDescriptorSets(\(pipeline.name); raise maxBindingsPerDispatch?)", result: r.rawValue)
        }
        var infos = buffers.map { VkDescriptorBufferInfo(buffer: $0.buffer.handle, offset: VkDeviceSize($0.offset), range: VkDeviceSize($0.byteCount)) }
        var texelViews = [VkBufferView?](repeating: nil, count: buffers.count)
        for i in pipeline.texelBindings.sorted() where i < buffers.count {
            texelViews[i] = try makeTexelView(buffers[i], format: texelFormats[i] ?? .rgba32f, for: pipeline.name)
        }
        infos.withUnsafeMutableBufferPointer { ip in
            texelViews.withUnsafeMutableBufferPointer { vp in
                var writes = (0..<buffers.count).map { i -> VkWriteDescriptorSet in
                    var w = VkWriteDescriptorSet()
                    w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                    w.dstSet = set
                    w.dstBinding = UInt32(i)
                    w.descriptorCount = 1
                    if vp[i] != nil {
                        w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                        w.pTexelBufferView = UnsafePointer(vp.baseAddress! + i)
                    } else {
                        w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                        w.pBufferInfo = UnsafePointer(ip.baseAddress! + i)
                    }
                    return w
                }
                vkUpdateDescriptorSets(d, UInt32(writes.count), &writes, 0, nil)
            }
        }
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
        var sets: VkDescriptorSet? = set
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &sets, 0, nil)
        if pipeline.pushConstantSize > 0 {
            vkCmdPushConstants(commandBuffer, pipeline.layout, UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue), 0,
                               UInt32(pushConstants.count), pushConstants.baseAddress)
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
        if barrier {
            var memoryBarrier = VkMemoryBarrier()
            memoryBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
            memoryBarrier.srcAccessMask = UInt32(VK_ACCESS_SHADER_WRITE_BIT.rawValue)
            memoryBarrier.dstAccessMask = UInt32(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
                | VK_ACCESS_HOST_READ_BIT.rawValue)
            let stage = UInt32(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue)
            vkCmdPipelineBarrier(commandBuffer, stage, stage | UInt32(VK_PIPELINE_STAGE_HOST_BIT.rawValue), 0, 1, &memoryBarrier,
                                 0, nil, 0, nil)
        }
        dispatchCount += 1
    }

    /// A view of a slice for a uniform-texel-buffer binding (offset and size in whole texels).
    private func makeTexelView(_ slice: BufferSlice, format: TexelFormat, for name: String) throws(VulkanError) -> VkBufferView {
        let texel = format.texelBytes
        guard slice.offset % device.texelAlignment == 0, slice.byteCount >= texel else {
            throw .usage("\(name): a texel-buffer binding needs a \(device.texelAlignment)-byte aligned offset and at least \(texel) bytes")
        }
        var info = VkBufferViewCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO
        info.buffer = slice.buffer.handle
        switch format {
        case .rgba32f: info.format = VK_FORMAT_R32G32B32A32_SFLOAT
        case .rgba16f: info.format = VK_FORMAT_R16G16B16A16_SFLOAT
        case .r32f: info.format = VK_FORMAT_R32_SFLOAT
        case .r32ui: info.format = VK_FORMAT_R32_UINT
        }
        info.offset = VkDeviceSize(slice.offset)
        // Whole texels; a partial last texel is included when the buffer extends past the slice (the shader
        // never uses the extra floats), so element counts need not be multiples of 4.
        info.range = VkDeviceSize(min((slice.byteCount + texel - 1) / texel * texel, (slice.buffer.byteCount - slice.offset) / texel * texel))
        var view: VkBufferView?
        let r = vkCreateBufferView(device.handle, &info, nil, &view)
        guard r == VK_SUCCESS, let view else { throw VulkanError(call: "vkCreateBufferView(\(name))", result: r.rawValue) }
        views.append(view)
        return view
    }

    /// Convenience for a push-constant struct (its `MemoryLayout.size` bytes are pushed).
    public func dispatch<P>(_ pipeline: ComputePipeline, buffers: [BufferSlice], push: P, groups: (x: Int, y: Int, z: Int),
                            barrier: Bool = true, texelFormats: [Int: TexelFormat] = [:]) throws(VulkanError) {
        var p = push
        let size = MemoryLayout<P>.size
        try withUnsafeBytes(of: &p) { (raw: UnsafeRawBufferPointer) throws(VulkanError) in
            try dispatch(pipeline, buffers: buffers, pushConstants: UnsafeRawBufferPointer(rebasing: raw[0..<size]), groups: groups,
                         barrier: barrier, texelFormats: texelFormats)
        }
    }

    /// Marks a point for GPU timing; the time between consecutive marks is reported by `timings()`.
    public func timestamp(_ label: String) throws(VulkanError) {
        guard let queryPool, queryLabels.count < maxTimestamps else { return }
        try beginIfNeeded()
        vkCmdWriteTimestamp(commandBuffer, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queryPool, UInt32(queryLabels.count))
        queryLabels.append(label)
    }

    /// Submits and waits for completion (the first call ends recording). Call again to replay.
    /// Throws `VulkanError` (device lost, out of memory, timeout) instead of crashing.
    public func run() throws(VulkanError) {
        if !ended {
            try beginIfNeeded()
            let r = vkEndCommandBuffer(commandBuffer)
            guard r == VK_SUCCESS else { throw VulkanError(call: "vkEndCommandBuffer", result: r.rawValue) }
            ended = true
        }
        try device.submitAndWait(commandBuffer, fence: fence, what: "CommandSequence.run (\(dispatchCount) dispatches)")
    }

    /// GPU time between consecutive timestamps of the last run, in seconds (empty without timestamp support).
    public func timings() -> [(label: String, seconds: Double)] {
        guard let queryPool, queryLabels.count > 1 else { return [] }
        var values = [UInt64](repeating: 0, count: queryLabels.count)
        let r = vkGetQueryPoolResults(device.handle, queryPool, 0, UInt32(values.count), values.count * 8, &values, 8,
                                      UInt32(VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue))
        guard r == VK_SUCCESS else { return [] }
        return (1..<values.count).map { (queryLabels[$0], Double(values[$0] &- values[$0 - 1]) * Double(device.timestampPeriod) * 1e-9) }
    }
}
