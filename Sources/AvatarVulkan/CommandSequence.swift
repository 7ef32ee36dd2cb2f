internal import CVulkan
import Foundation

/// A recorded batch of dispatches: many dispatches per submit, recorded once and replayable per frame,
/// with optional GPU timestamps between stages. Descriptor sets are allocated from the sequence's own pool,
/// so a recorded sequence stays valid for replays.
public final class CommandSequence {
    private let device: VulkanDevice
    private let pool: VkDescriptorPool
    private let commandBuffer: VkCommandBuffer
    private let fence: VkFence
    private let queryPool: VkQueryPool?
    private var queryLabels: [String] = []
    private let maxTimestamps: Int
    private var recording = false
    private var ended = false
    public private(set) var dispatchCount = 0

    public init(device: VulkanDevice, maxDispatches: Int = 1024, maxBindingsPerDispatch: Int = 8, timestamps: Int = 0) throws(VulkanError) {
        self.device = device
        let d = device.handle
        var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(maxDispatches * maxBindingsPerDispatch))
        var poolInfo = VkDescriptorPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        poolInfo.maxSets = UInt32(maxDispatches)
        poolInfo.poolSizeCount = 1
        var pool: VkDescriptorPool?
        var r = withUnsafePointer(to: &size) { s in
            poolInfo.pPoolSizes = s
            return vkCreateDescriptorPool(d, &poolInfo, nil, &pool)
        }
        guard r == VK_SUCCESS, let pool else { throw VulkanError(call: "vkCreateDescriptorPool", result: r.rawValue) }

        var allocate = VkCommandBufferAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocate.commandPool = device.commandPool
        allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocate.commandBufferCount = 1
        var cb: VkCommandBuffer?
        r = device.commandPoolLock.withLock { _ in vkAllocateCommandBuffers(d, &allocate, &cb) }
        guard r == VK_SUCCESS, let cb else {
            vkDestroyDescriptorPool(d, pool, nil)
            throw VulkanError(call: "vkAllocateCommandBuffers", result: r.rawValue)
        }
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        // Created signaled so that tearing down a never-submitted sequence does not wait forever.
        fenceInfo.flags = UInt32(VK_FENCE_CREATE_SIGNALED_BIT.rawValue)
        var fence: VkFence?
        vkCreateFence(d, &fenceInfo, nil, &fence)

        var queries: VkQueryPool?
        if timestamps > 0 {
            var q = VkQueryPoolCreateInfo()
            q.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            q.queryType = VK_QUERY_TYPE_TIMESTAMP
            q.queryCount = UInt32(timestamps)
            vkCreateQueryPool(d, &q, nil, &queries)
        }
        self.pool = pool
        self.commandBuffer = cb
        self.fence = fence!
        self.queryPool = queries
        self.maxTimestamps = timestamps
    }

    deinit {
        let d = device.handle
        vkWaitForFences(d, 1, [fence], 1, UInt64.max)
        if let queryPool { vkDestroyQueryPool(d, queryPool, nil) }
        vkDestroyFence(d, fence, nil)
        device.commandPoolLock.withLock { _ in vkFreeCommandBuffers(d, device.commandPool, 1, [commandBuffer]) }
        vkDestroyDescriptorPool(d, pool, nil)
    }

    private func beginIfNeeded() throws(VulkanError) {
        guard !recording else { return }
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        let r = vkBeginCommandBuffer(commandBuffer, &begin)
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkBeginCommandBuffer", result: r.rawValue) }
        if let queryPool { vkCmdResetQueryPool(commandBuffer, queryPool, 0, UInt32(maxTimestamps)) }
        recording = true
    }

    /// Records one dispatch; a memory barrier follows so the next dispatch sees its writes.
    public func dispatch(_ pipeline: ComputePipeline, buffers: [BufferSlice], pushConstants: UnsafeRawBufferPointer,
                         groups: (x: Int, y: Int, z: Int)) throws(VulkanError) {
        precondition(!ended, "sequence already ended; record a new one")
        precondition(buffers.count == pipeline.bindings, "\(pipeline.name) takes \(pipeline.bindings) buffers, got \(buffers.count)")
        precondition(pushConstants.count == pipeline.pushConstantSize, "\(pipeline.name): push constants are \(pipeline.pushConstantSize) bytes, got \(pushConstants.count)")
        try beginIfNeeded()
        let d = device.handle
        var set: VkDescriptorSet?
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        var r = withUnsafePointer(to: &layout) { lp in
            var info = VkDescriptorSetAllocateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            info.descriptorPool = pool
            info.descriptorSetCount = 1
            info.pSetLayouts = lp
            return vkAllocateDescriptorSets(d, &info, &set)
        }
        guard r == VK_SUCCESS, let set else { throw VulkanError(call: "vkAllocateDescriptorSets (sequence full?)", result: r.rawValue) }
        var infos = buffers.map { VkDescriptorBufferInfo(buffer: $0.buffer.handle, offset: VkDeviceSize($0.offset), range: VkDeviceSize($0.byteCount)) }
        infos.withUnsafeMutableBufferPointer { ip in
            var writes = (0..<buffers.count).map { i -> VkWriteDescriptorSet in
                var w = VkWriteDescriptorSet()
                w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                w.dstSet = set
                w.dstBinding = UInt32(i)
                w.descriptorCount = 1
                w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                w.pBufferInfo = UnsafePointer(ip.baseAddress! + i)
                return w
            }
            vkUpdateDescriptorSets(d, UInt32(writes.count), &writes, 0, nil)
        }
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
        var sets: VkDescriptorSet? = set
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &sets, 0, nil)
        if pipeline.pushConstantSize > 0 {
            vkCmdPushConstants(commandBuffer, pipeline.layout, UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue), 0,
                               UInt32(pushConstants.count), pushConstants.baseAddress)
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
        var barrier = VkMemoryBarrier()
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        barrier.srcAccessMask = UInt32(VK_ACCESS_SHADER_WRITE_BIT.rawValue)
        barrier.dstAccessMask = UInt32(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_HOST_READ_BIT.rawValue)
        let stage = UInt32(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue)
        vkCmdPipelineBarrier(commandBuffer, stage, stage | UInt32(VK_PIPELINE_STAGE_HOST_BIT.rawValue), 0, 1, &barrier, 0, nil, 0, nil)
        dispatchCount += 1
        r = VK_SUCCESS
    }

    /// Convenience for a push-constant struct.
    public func dispatch<P>(_ pipeline: ComputePipeline, buffers: [BufferSlice], push: P, groups: (x: Int, y: Int, z: Int)) throws(VulkanError) {
        var p = push
        let size = MemoryLayout<P>.size
        try withUnsafeBytes(of: &p) { (raw: UnsafeRawBufferPointer) throws(VulkanError) in
            try dispatch(pipeline, buffers: buffers, pushConstants: UnsafeRawBufferPointer(rebasing: raw[0..<size]), groups: groups)
        }
    }

    /// Marks a point for GPU timing; the time between consecutive marks is reported by `timings()`.
    public func timestamp(_ label: String) throws(VulkanError) {
        guard let queryPool, queryLabels.count < maxTimestamps else { return }
        try beginIfNeeded()
        vkCmdWriteTimestamp(commandBuffer, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queryPool, UInt32(queryLabels.count))
        queryLabels.append(label)
    }

    /// Submits (first call ends recording) and waits for completion. Call again to replay.
    public func run() throws(VulkanError) {
        try beginIfNeeded()
        if !ended {
            let r = vkEndCommandBuffer(commandBuffer)
            guard r == VK_SUCCESS else { throw VulkanError(call: "vkEndCommandBuffer", result: r.rawValue) }
            ended = true
        }
        let d = device.handle
        vkResetFences(d, 1, [fence])
        var cb: VkCommandBuffer? = commandBuffer
        let r: VkResult = device.queueLock.withLock { _ in
            withUnsafePointer(to: &cb) { cbp in
                var submit = VkSubmitInfo()
                submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
                submit.commandBufferCount = 1
                submit.pCommandBuffers = cbp
                return vkQueueSubmit(queue, 1, &submit, fence)
            }
        }
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkQueueSubmit", result: r.rawValue) }
        let w = vkWaitForFences(d, 1, [fence], 1, UInt64.max)
        guard w == VK_SUCCESS else { throw VulkanError(call: "vkWaitForFences", result: w.rawValue) }
    }

    private var queue: VkQueue { device.queue }

    /// GPU time between consecutive timestamps of the last run, in seconds.
    public func timings() -> [(label: String, seconds: Double)] {
        guard let queryPool, queryLabels.count > 1 else { return [] }
        var values = [UInt64](repeating: 0, count: queryLabels.count)
        let r = vkGetQueryPoolResults(device.handle, queryPool, 0, UInt32(values.count), values.count * 8, &values, 8,
                                      UInt32(VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue))
        guard r == VK_SUCCESS else { return [] }
        return (1..<values.count).map { (queryLabels[$0], Double(values[$0] &- values[$0 - 1]) * Double(device.timestampPeriod) * 1e-9) }
    }
}
