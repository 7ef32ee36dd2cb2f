internal import CVulkan
import Foundation

/// The VkPipelineCache persisted to disk. The file starts with our own header (magic, format version,
/// vendor, device, driver version, pipelineCacheUUID); a file written for another device or driver is
/// ignored instead of being handed to the driver.
public final class PipelineCacheStore: @unchecked Sendable {
    public enum LoadStatus: Sendable, Equatable {
        case disabled
        case fresh
        case loaded(bytes: Int)
        case rejected(reason: String)
    }

    static let magic: [UInt8] = Array("AVDPCACH".utf8)
    static let formatVersion: UInt32 = 1

    let handle: VkPipelineCache?
    private let device: VkDevice
    private let file: URL?
    private let header: [UInt8]
    public private(set) var status: LoadStatus

    init(device: VkDevice, info: VulkanDeviceInfo, file: URL?) {
        self.device = device
        self.file = file
        var header = Self.magic
        for v in [Self.formatVersion, info.vendorID, info.deviceID, info.driverVersion] {
            withUnsafeBytes(of: v.littleEndian) { header += $0 }
        }
        header += info.pipelineCacheUUID
        self.header = header

        var initial: [UInt8] = []
        var status: LoadStatus = file == nil ? .disabled : .fresh
        if let file, let data = try? Data(contentsOf: file) {
            let bytes = [UInt8](data)
            if bytes.count > header.count, Array(bytes[0..<header.count]) == header {
                initial = Array(bytes[header.count...])
                status = .loaded(bytes: initial.count)
            } else {
                status = .rejected(reason: "written for another device, driver or format; starting fresh")
            }
        }
        var info = VkPipelineCacheCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO
        var cache: VkPipelineCache?
        let result = initial.withUnsafeBytes { raw in
            info.initialDataSize = raw.count
            info.pInitialData = raw.baseAddress
            return vkCreatePipelineCache(device, &info, nil, &cache)
        }
        if result != VK_SUCCESS {
            // A blob the driver refuses: start empty.
            info.initialDataSize = 0
            info.pInitialData = nil
            vkCreatePipelineCache(device, &info, nil, &cache)
            status = .rejected(reason: "the driver refused the cached data")
        }
        self.handle = cache
        self.status = status
    }

    func save() {
        guard let file, let handle else { return }
        var size = 0
        guard vkGetPipelineCacheData(device, handle, &size, nil) == VK_SUCCESS, size > 0 else { return }
        var blob = [UInt8](repeating: 0, count: size)
        guard vkGetPipelineCacheData(device, handle, &size, &blob) == VK_SUCCESS else { return }
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(header + blob.prefix(size)).write(to: file, options: .atomic)
    }

    func destroy() {
        if let handle { vkDestroyPipelineCache(device, handle, nil) }
    }
}
