internal import CVulkan
import Foundation

/// A compute pipeline: SPIR-V module, a descriptor-set layout of `bindings` buffers (storage buffers, or
/// uniform texel buffers viewed as RGBA32F for the bindings in `texelBindings`), a push-constant
/// range, created through the device's pipeline cache.
public final class ComputePipeline: @unchecked Sendable {
    public let name: String
    public let bindings: Int
    /// Bindings declared as `uniform samplerBuffer` (read with texelFetch, 16 bytes per texel): on CPU drivers
    /// texel fetches are vectorized gathers while storage-buffer loads are per-lane loops.
    public let texelBindings: Set<Int>
    public let pushConstantSize: Int
    /// Bindings the shader only reads (from its SPIR-V): a command sequence orders dispatches by them.
    public let readOnlyBindings: Set<Int>
    let layout: VkPipelineLayout
    let setLayout: VkDescriptorSetLayout
    let pipeline: VkPipeline
    private let device: VulkanDevice

    public init(device: VulkanDevice, name: String, spirv: [UInt8], bindings: Int, texelBindings: Set<Int> = [], pushConstantSize: Int,
                specialization: [UInt32] = []) throws(VulkanError) {
        guard pushConstantSize <= 128 else { throw .usage("\(name): \(pushConstantSize) bytes of push constants, beyond the guaranteed 128") }
        // The host's push-constant struct and binding count must match what the shader declares.
        let reflection = try SPIRVReflection(spirv: spirv)
        readOnlyBindings = reflection.readOnlyBindings
        guard reflection.pushConstantSize == pushConstantSize else {
            throw .usage("\(name): the shader's push constants are \(reflection.pushConstantSize) bytes, the host passes \(pushConstantSize)")
        }
        guard reflection.texelBindings == texelBindings else {
            throw .usage("\(name): the shader's texel-buffer bindings are \(reflection.texelBindings.sorted()), the host declares \(texelBindings.sorted())")
        }
        guard reflection.bindings.allSatisfy({ $0 < bindings }) else {
            throw .usage("\(name): the shader uses bindings \(reflection.bindings), the host declares \(bindings)")
        }
        self.device = device
        self.name = name
        self.bindings = bindings
        self.texelBindings = texelBindings
        self.pushConstantSize = pushConstantSize
        let d = device.handle

        var module: VkShaderModule?
        var r: VkResult = spirv.withUnsafeBytes { raw in
            var info = VkShaderModuleCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            info.codeSize = raw.count
            info.pCode = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
            return vkCreateShaderModule(d, &info, nil, &module)
        }
        guard r == VK_SUCCESS, let module else { throw VulkanError(call: "vkCreateShaderModule(\(name))", result: r.rawValue) }
        defer { vkDestroyShaderModule(d, module, nil) }

        var layoutBindings = (0..<bindings).map { i -> VkDescriptorSetLayoutBinding in
            var b = VkDescriptorSetLayoutBinding()
            b.binding = UInt32(i)
            b.descriptorType = texelBindings.contains(i) ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            b.descriptorCount = 1
            b.stageFlags = UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue)
            return b
        }
        var setLayout: VkDescriptorSetLayout?
        r = layoutBindings.withUnsafeMutableBufferPointer { p in
            var info = VkDescriptorSetLayoutCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
            info.bindingCount = UInt32(bindings)
            info.pBindings = UnsafePointer(p.baseAddress)
            return vkCreateDescriptorSetLayout(d, &info, nil, &setLayout)
        }
        guard r == VK_SUCCESS, let setLayout else { throw VulkanError(call: "vkCreateDescriptorSetLayout(\(name))", result: r.rawValue) }

        var range = VkPushConstantRange()
        range.stageFlags = UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue)
        range.size = UInt32(pushConstantSize)
        var layout: VkPipelineLayout?
        var setLayoutCopy: VkDescriptorSetLayout? = setLayout
        r = withUnsafePointer(to: &range) { rp in
            withUnsafePointer(to: &setLayoutCopy) { sp in
                var info = VkPipelineLayoutCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
                info.setLayoutCount = 1
                info.pSetLayouts = sp
                info.pushConstantRangeCount = pushConstantSize > 0 ? 1 : 0
                info.pPushConstantRanges = pushConstantSize > 0 ? rp : nil
                return vkCreatePipelineLayout(d, &info, nil, &layout)
            }
        }
        guard r == VK_SUCCESS, let layout else {
            vkDestroyDescriptorSetLayout(d, setLayout, nil)
            throw VulkanError(call: "vkCreatePipelineLayout(\(name))", result: r.rawValue)
        }

        var entries = specialization.indices.map { i -> VkSpecializationMapEntry in
            VkSpecializationMapEntry(constantID: UInt32(i), offset: UInt32(i * 4), size: 4)
        }
        var data = specialization
        var pipeline: VkPipeline?
        r = "main".withCString { entry in
            entries.withUnsafeMutableBufferPointer { ep in
                data.withUnsafeMutableBytes { dp in
                    var spec = VkSpecializationInfo()
                    spec.mapEntryCount = UInt32(specialization.count)
                    spec.pMapEntries = UnsafePointer(ep.baseAddress)
                    spec.dataSize = dp.count
                    spec.pData = UnsafeRawPointer(dp.baseAddress)
                    return withUnsafePointer(to: &spec) { specPointer in
                        var stage = VkPipelineShaderStageCreateInfo()
                        stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                        stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                        stage.module = module
                        stage.pName = entry
                        stage.pSpecializationInfo = specialization.isEmpty ? nil : specPointer
                        var info = VkComputePipelineCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        info.stage = stage
                        info.layout = layout
                        return vkCreateComputePipelines(d, device.pipelineCache.handle, 1, &info, nil, &pipeline)
                    }
                }
            }
        }
        guard r == VK_SUCCESS, let pipeline else {
            vkDestroyPipelineLayout(d, layout, nil)
            vkDestroyDescriptorSetLayout(d, setLayout, nil)
            throw VulkanError(call: "vkCreateComputePipelines(\(name))", result: r.rawValue)
        }
        self.setLayout = setLayout
        self.layout = layout
        self.pipeline = pipeline
    }

    deinit {
        vkDestroyPipeline(device.handle, pipeline, nil)
        vkDestroyPipelineLayout(device.handle, layout, nil)
        vkDestroyDescriptorSetLayout(device.handle, setLayout, nil)
    }
}
