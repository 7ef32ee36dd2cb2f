internal import CVulkan
import Foundation

/// A recorded batch of dispatches: many dispatches per submit, recorded once and replayable per frame,
/// with optional GPU timestamps between stages. Descriptor sets come from the sequence's own pools (a new pool
/// is opened when one is full, so no dispatch count is guessed up front), so a recorded sequence stays valid for
/// replays (write new inputs into the same slices, `run()` again).
///
/// Barriers are placed by the sequence: each dispatch's bindings are reads or writes (from the shader's SPIR-V:
/// texel buffers and `readonly` blocks are reads), and a compute→compute barrier is recorded only before a
/// dispatch that reads or writes a byte range written, or writes a range read, since the last barrier.
/// Independent dispatches (the parts of a concat, the three projections of attention) run without one.
///
/// `submit()` and `wait()` split `run()`, so a caller can record or prepare frame N+1 while frame N runs.
///
/// Threading: record and run from one thread at a time (a session's render thread); `run()` and `wait()` block
/// on a fence, so never call them on the Swift cooperative pool or a NIO event loop (sessions run on their own threads).
public final class CommandSequence {
    private let device: VulkanDevice
    private var pools: [VkDescriptorPool] = []
    private var setsLeftInPool = 0
    private let commandBuffer: VkCommandBuffer
    private let fence: VkFence
    private let queryPool: VkQueryPool?
    private var queryLabels: [String] = []
    /// Texel-buffer views created while recording; they live as long as the recorded command buffer.
    private var views: [VkBufferView] = []
    private let maxTimestamps: Int
    private var recording = false
    private var ended = false
    private var inFlight = false
    /// Byte ranges read and written since the last barrier: (buffer, start, end).
    private var pendingReads: [(ObjectIdentifier, Int, Int)] = []
    private var pendingWrites: [(ObjectIdentifier, Int, Int)] = []
    public private(set) var dispatchCount = 0
    /// Barriers recorded so far (the planner's tests compare it with the dependency count).
    public private(set) var barrierCount = 0

    /// Descriptor sets per pool, and descriptors of each kind per set, in every pool the sequence opens.
    static let setsPerPool = 128
    static let maxBindingsPerDispatch = 12

    /// `timestamps`: how many `timestamp(_:)` marks may be recorded (0 = none; ignored where the queue has
    /// no timestamp support, then `timings()` is empty).
    public init(device: VulkanDevice, timestamps: Int = 0) throws(VulkanError) {
        self.device = device
        let d = device.handle
        var allocate = VkCommandBufferAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocate.commandPool = device.commandPool
        allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocate.commandBufferCount = 1
        var cbOut: VkCommandBuffer?
        var r = device.commandPoolLock.withLock { _ in vkAllocateCommandBuffers(d, &allocate, &cbOut) }
        guard r == VK_SUCCESS, let cb = cbOut else { throw VulkanError(call: "vkAllocateCommandBuffers", result: r.rawValue) }
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        // Created signaled so that tearing down a never-submitted sequence does not wait.
        fenceInfo.flags = UInt32(VK_FENCE_CREATE_SIGNALED_BIT.rawValue)
        var fenceOut: VkFence?
        r = vkCreateFence(d, &fenceInfo, nil, &fenceOut)
        guard r == VK_SUCCESS, let fence = fenceOut else {
            device.commandPoolLock.withLock { _ in vkFreeCommandBuffers(d, device.commandPool, 1, &cbOut) }
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
        self.commandBuffer = cb
        self.fence = fence
        self.queryPool = queries
        self.maxTimestamps = queries == nil ? 0 : timestamps
    }

    /// Opens another descriptor pool once the current one is full.
    private func openPool() throws(VulkanError) {
        let n = Self.setsPerPool, b = Self.maxBindingsPerDispatch
        var sizes = [VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(n * b)),
                     VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, descriptorCount: UInt32(n * b))]
        var poolInfo = VkDescriptorPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        poolInfo.maxSets = UInt32(n)
        poolInfo.poolSizeCount = UInt32(sizes.count)
        var poolOut: VkDescriptorPool?
        let r = sizes.withUnsafeMutableBufferPointer { s in
            poolInfo.pPoolSizes = UnsafePointer(s.baseAddress)
            return vkCreateDescriptorPool(device.handle, &poolInfo, nil, &poolOut)
        }
        guard r == VK_SUCCESS, let pool = poolOut else { throw VulkanError(call: "vkCreateDescriptorPool", result: r.rawValue) }
        pools.append(pool)
        setsLeftInPool = n
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
        for pool in pools { vkDestroyDescriptorPool(d, pool, nil) }
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

    /// Records one dispatch, preceded by a barrier when it depends on a dispatch since the last one (see the
    /// type's note). `texelFormats` picks the view format of texel-buffer bindings (default RGBA32F; RGBA16F
    /// reads fp16 storage as fp32 values through the same shader). `touched` narrows a binding to the byte range
    /// (relative to its slice) the dispatch really accesses, for ordering only.
    public func dispatch(_ pipeline: ComputePipeline, buffers: [BufferSlice], pushConstants: UnsafeRawBufferPointer,
                         groups: (x: Int, y: Int, z: Int), texelFormats: [Int: TexelFormat] = [:],
                         touched: [Int: Range<Int>] = [:]) throws(VulkanError) {
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
        guard buffers.count <= Self.maxBindingsPerDispatch else {
            throw .usage("\(pipeline.name): \(buffers.count) bindings, at most \(Self.maxBindingsPerDispatch) per dispatch")
        }
        for b in buffers where b.buffer.device !== device {
            throw .usage("\(pipeline.name): a buffer belongs to another device")
        }
        try beginIfNeeded()
        let d = device.handle
        if setsLeftInPool == 0 { try openPool() }
        setsLeftInPool -= 1
        var setOut: VkDescriptorSet?
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        let pool = pools[pools.count - 1]
        let r = withUnsafePointer(to: &layout) { lp in
            var info = VkDescriptorSetAllocateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            info.descriptorPool = pool
            info.descriptorSetCount = 1
            info.pSetLayouts = lp
            return vkAllocateDescriptorSets(d, &info, &setOut)
        }
        guard r == VK_SUCCESS, let set = setOut else {
            throw VulkanError(call: "vkAllocateDescriptorSets(\(pipeline.name))", result: r.rawValue)
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
        // Byte ranges as bound (texel views cover whole texels).
        var reads: [(ObjectIdentifier, Int, Int)] = [], writes: [(ObjectIdentifier, Int, Int)] = []
        for (i, b) in buffers.enumerated() {
            var start = b.offset
            var end = pipeline.texelBindings.contains(i) ? b.offset + (b.byteCount + 15) / 16 * 16 : b.offset + b.byteCount
            if let t = touched[i] { start = max(start, b.offset + t.lowerBound); end = min(end, b.offset + t.upperBound) }
            let range = (ObjectIdentifier(b.buffer), start, end)
            if pipeline.readOnlyBindings.contains(i) { reads.append(range) } else { writes.append(range) }
        }
        if Self.overlaps(reads, pendingWrites) || Self.overlaps(writes, pendingWrites) || Self.overlaps(writes, pendingReads) {
            recordBarrier()
        }
        pendingReads += reads
        pendingWrites += writes
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
        var sets: VkDescriptorSet? = set
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &sets, 0, nil)
        if pipeline.pushConstantSize > 0 {
            vkCmdPushConstants(commandBuffer, pipeline.layout, UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue), 0,
                               UInt32(pushConstants.count), pushConstants.baseAddress)
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
        dispatchCount += 1
    }

    private static func overlaps(_ a: [(ObjectIdentifier, Int, Int)], _ b: [(ObjectIdentifier, Int, Int)]) -> Bool {
        for x in a { for y in b where x.0 == y.0 && x.1 < y.2 && y.1 < x.2 { return true } }
        return false
    }

    /// A full compute/transfer memory barrier; forgets the pending ranges.
    private func recordBarrier(host: Bool = false) {
        var memoryBarrier = VkMemoryBarrier()
        memoryBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        memoryBarrier.srcAccessMask = UInt32(VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        memoryBarrier.dstAccessMask = UInt32(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
            | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue | (host ? VK_ACCESS_HOST_READ_BIT.rawValue : 0))
        let stages = UInt32(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue)
        vkCmdPipelineBarrier(commandBuffer, stages, stages | (host ? UInt32(VK_PIPELINE_STAGE_HOST_BIT.rawValue) : 0), 0, 1,
                             &memoryBarrier, 0, nil, 0, nil)
        pendingReads.removeAll(keepingCapacity: true)
        pendingWrites.removeAll(keepingCapacity: true)
        barrierCount += 1
    }

    /// Records a buffer-to-buffer copy (staging of inputs and outputs), ordered like a dispatch that reads
    /// `source` and writes `destination`.
    public func copy(from source: BufferSlice, to destination: BufferSlice) throws(VulkanError) {
        guard source.byteCount == destination.byteCount, source.byteCount > 0 else {
            throw .usage("copy of \(source.byteCount) bytes into \(destination.byteCount)")
        }
        guard source.buffer.device === device, destination.buffer.device === device else {
            throw .usage("copy: a buffer belongs to another device")
        }
        try beginIfNeeded()
        let read = (ObjectIdentifier(source.buffer), source.offset, source.offset + source.byteCount)
        let write = (ObjectIdentifier(destination.buffer), destination.offset, destination.offset + destination.byteCount)
        if Self.overlaps([read, write], pendingWrites) || Self.overlaps([write], pendingReads) { recordBarrier() }
        pendingReads.append(read)
        pendingWrites.append(write)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(source.offset), dstOffset: VkDeviceSize(destination.offset),
                                  size: VkDeviceSize(source.byteCount))
        vkCmdCopyBuffer(commandBuffer, source.buffer.handle, destination.buffer.handle, 1, &region)
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
                            texelFormats: [Int: TexelFormat] = [:], touched: [Int: Range<Int>] = [:]) throws(VulkanError) {
        var p = push
        let size = MemoryLayout<P>.size
        try withUnsafeBytes(of: &p) { (raw: UnsafeRawBufferPointer) throws(VulkanError) in
            try dispatch(pipeline, buffers: buffers, pushConstants: UnsafeRawBufferPointer(rebasing: raw[0..<size]), groups: groups,
                         texelFormats: texelFormats, touched: touched)
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
        try submit()
        try wait()
    }

    /// Submits without waiting (the first call ends recording, with a final barrier that makes every write
    /// visible to the host). The sequence must be waited for before it is submitted again.
    public func submit() throws(VulkanError) {
        guard !inFlight else { throw .usage("CommandSequence submitted again before wait()") }
        if !ended {
            try beginIfNeeded()
            recordBarrier(host: true)
            let r = vkEndCommandBuffer(commandBuffer)
            guard r == VK_SUCCESS else { throw VulkanError(call: "vkEndCommandBuffer", result: r.rawValue) }
            ended = true
        }
        try device.submit(commandBuffer, fence: fence, what: "CommandSequence (\(dispatchCount) dispatches)")
        inFlight = true
    }

    /// Waits for the last `submit()` (no-op when nothing is in flight).
    public func wait() throws(VulkanError) {
        guard inFlight else { return }
        inFlight = false
        try device.wait(fence: fence, what: "CommandSequence (\(dispatchCount) dispatches)")
    }

    /// Whether a submission is waiting for `wait()`.
    public var isInFlight: Bool { inFlight }

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
